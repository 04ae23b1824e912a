using OrleansLm.Model.Models;
using OrleansLm.Model.Text;
using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;

namespace OrleansLm.Model.Tests.Parallel;

/// <summary>Models and data small enough for unit tests of the data-parallel pieces.</summary>
internal static class TinyModels
{
    private const string Text = "to be, or not to be, that is the question: whether 'tis nobler in the mind to suffer ";

    public static readonly Corpus Corpus = Corpus.FromText(string.Concat(Enumerable.Repeat(Text, 10)), CharTokenizer.FromCorpus(Text));

    /// <summary>Matrices, vectors and a tied embedding: the layout has parameters of rank 1 and 2.</summary>
    public static TransformerLm Transformer(ulong seed, int dimension = 8)
    {
        LibTorch.ManualSeed(seed);
        return new TransformerLm(new TransformerConfig(Corpus.VocabularySize, BlockSize: 8, Layers: 1, Heads: 2, ModelDimension: dimension));
    }

    public static RnnLm Lstm(ulong seed)
    {
        LibTorch.ManualSeed(seed);
        return new RnnLm(new RnnLmConfig { VocabularySize = Corpus.VocabularySize, Cell = "lstm", EmbeddingSize = 8, HiddenSize = 8 });
    }

    public static WindowBatches Windows(TokenSlice slice) => new(new WindowSampler(slice, blockSize: 8, seed: 3), batchSize: 4);

    public static StreamBatches Streams(TokenSlice slice) => new(new TokenStreams(slice, batchSize: 4, segmentLength: 8));

    /// <summary>Values uniform in [−1, 1), reproducible from <paramref name="seed"/>.</summary>
    public static float[] RandomValues(long count, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, (int)count).Select(_ => (float)(2 * random.NextDouble() - 1))];
    }
}
