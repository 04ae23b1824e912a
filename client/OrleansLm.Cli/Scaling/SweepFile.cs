using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansLm.Model.IO;

namespace OrleansLm.Cli.Scaling;

/// <summary>
/// sweep.json: the points of a sweep that have ended, in snake_case JSON. It is rewritten atomically (temporary file,
/// then rename) after every point, so an interrupted sweep leaves the points it finished, and a re-run skips them.
/// </summary>
public sealed record SweepFile(string Name, IReadOnlyList<SweepPoint> Points)
{
    public const string FileName = "sweep.json";

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        // A file for people too: an error's quotes as they are, not \u0027.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    /// <summary>The file at <paramref name="path"/>, or null when there is none.</summary>
    /// <exception cref="InvalidDataException">The file is not a sweep.json.</exception>
    public static SweepFile? Load(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize<SweepFile>(File.ReadAllText(path), Options)
                   ?? throw new InvalidDataException($"{path}: empty; expected a sweep's {FileName}");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a sweep's {FileName}: {e.Message}", e);
        }
    }

    /// <summary>
    /// This file with <paramref name="point"/> in place of the point of its run id, its points in the order of
    /// <paramref name="grid"/> (points of runs no longer in it stay, after those that are).
    /// </summary>
    public SweepFile With(SweepPoint point, IReadOnlyList<PlannedRun> grid)
    {
        var order = grid.Select((run, index) => (run.RunId, index)).ToDictionary(p => p.RunId, p => p.index);
        return this with
        {
            Points = [.. Points.Where(p => p.RunId != point.RunId).Append(point).OrderBy(p => order.GetValueOrDefault(p.RunId, int.MaxValue))],
        };
    }

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Options) + "\n");
}
