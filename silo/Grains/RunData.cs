using System.Collections.Concurrent;
using OrleansLm.Model.Text;
using OrleansLm.Model.Training;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// A silo's tokenized corpora, one per data section: the workers and parameter-server shards of a run on this silo
/// read data.path and train its tokenizer once, not once each.
/// </summary>
public sealed class RunData
{
    private readonly ConcurrentDictionary<DataSection, Lazy<(ITokenizer Tokenizer, Corpus Corpus)>> loaded = new();

    public (ITokenizer Tokenizer, Corpus Corpus) Load(DataSection data)
    {
        var entry = loaded.GetOrAdd(data, section => new Lazy<(ITokenizer, Corpus)>(() => TrainingRun.LoadData(section)));
        try
        {
            return entry.Value;
        }
        catch
        {
            // A corpus that failed to load (missing file) is tried again by the next run that names it.
            loaded.TryRemove(new KeyValuePair<DataSection, Lazy<(ITokenizer, Corpus)>>(data, entry));
            throw;
        }
    }
}
