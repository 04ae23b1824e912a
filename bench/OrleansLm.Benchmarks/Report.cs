using System.Text;
using System.Text.Json;
using OrleansLm.Model.Torch;

namespace OrleansLm.Benchmarks;

/// <summary>One measured quantity: its samples (one per repetition, after warm-up) and their median.</summary>
internal sealed record Measurement(string Name, string Unit, string Description, double[] Samples)
{
    public double Median
    {
        get
        {
            var sorted = Samples.Order().ToArray();
            var mid = sorted.Length / 2;
            return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        }
    }

    public double Min => Samples.Min();

    public double Max => Samples.Max();
}

/// <summary>
/// A benchmark's results. The JSON shape is shared with bench/torch_peer.py:
/// { impl, benchmark, torch_version, threads, blas_threads, config{...}, results[{name, unit, median, min, max, samples[], description}] }.
/// </summary>
internal sealed class Report(string benchmark, int threads, IReadOnlyDictionary<string, object> config)
{
    private readonly List<Measurement> results = [];

    public int? BlasThreads { get; set; }

    public void Add(Measurement m) => results.Add(m);

    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("impl", "orleanslm");
            w.WriteString("benchmark", benchmark);
            w.WriteString("torch_version", LibTorch.Version);
            w.WriteNumber("threads", threads);
            if (BlasThreads is { } bt) w.WriteNumber("blas_threads", bt);
            else w.WriteNull("blas_threads");
            w.WriteStartObject("config");
            foreach (var (key, value) in config)
            {
                switch (value)
                {
                    case int i: w.WriteNumber(key, i); break;
                    case long l: w.WriteNumber(key, l); break;
                    case double d: w.WriteNumber(key, d); break;
                    default: w.WriteString(key, value.ToString()); break;
                }
            }
            w.WriteEndObject();
            w.WriteStartArray("results");
            foreach (var m in results)
            {
                w.WriteStartObject();
                w.WriteString("name", m.Name);
                w.WriteString("unit", m.Unit);
                w.WriteNumber("median", Math.Round(m.Median, 3));
                w.WriteNumber("min", Math.Round(m.Min, 3));
                w.WriteNumber("max", Math.Round(m.Max, 3));
                w.WriteStartArray("samples");
                foreach (var s in m.Samples) w.WriteNumberValue(Math.Round(s, 3));
                w.WriteEndArray();
                w.WriteString("description", m.Description);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    public void PrintTable(TextWriter output)
    {
        output.WriteLine($"orleanslm {benchmark}  libtorch {LibTorch.Version}  threads={threads} blas_threads={BlasThreads?.ToString() ?? "?"}  " +
                         string.Join(' ', config.Select(kv => $"{kv.Key}={kv.Value}")));
        output.WriteLine($"{"name",-28} {"median",10} {"min",10} {"max",10}  unit");
        foreach (var m in results)
            output.WriteLine($"{m.Name,-28} {m.Median,10:F1} {m.Min,10:F1} {m.Max,10:F1}  {m.Unit,-8} {m.Description}");
    }
}
