using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansLm.Model.IO;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// What a cluster checkpoint is: the step it holds, the run's spec, the data cursor, the seeds, the loss curve so far
/// and every parameter-server shard's file with its sha256. Written last, atomically (temp file, fsync, rename), into
/// the checkpoint's directory: a checkpoint without a manifest was never finished, and one whose files do not match
/// their checksums is damaged; both are skipped when a run resumes.
/// </summary>
/// <param name="DataCursor">The next training batch every data shard serves: batches are a pure function of (data.seed, index).</param>
/// <param name="Files">The shards' files, in shard order, with their paths relative to the checkpoint's directory.</param>
/// <param name="Evaluations">The validation losses reported up to <paramref name="Step"/>; absent from manifests written before they were kept.</param>
/// <param name="Shape">The run's model size and cost per token; absent from manifests written before it was kept.</param>
public sealed record RunManifest(
    int Format, string RunId, long Step, RunSpec Spec, long DataCursor, RunSeeds Seeds, double ValidationLoss,
    IReadOnlyList<double> Losses, IReadOnlyList<CheckpointFile> Files, DateTimeOffset WrittenAt, IReadOnlyList<Evaluation>? Evaluations = null,
    RunShape? Shape = null)
{
    public const int CurrentFormat = 1;
    public const string FileName = "manifest.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        WriteIndented = true,
    };

    /// <summary>The directory of the checkpoint of <paramref name="step"/> in a run's checkpoint directory.</summary>
    public static string Directory(string runDirectory, long step) => Path.Combine(runDirectory, $"step-{step:D8}");

    /// <summary>Writes the manifest into <paramref name="checkpointDirectory"/> atomically, with the files' paths made relative to it.</summary>
    public void Write(string checkpointDirectory)
    {
        var relative = this with { Files = [.. Files.Select(f => f with { Path = Path.GetRelativePath(checkpointDirectory, f.Path) })] };
        AtomicFile.WriteAllText(Path.Combine(checkpointDirectory, FileName), JsonSerializer.Serialize(relative, Json));
    }

    /// <summary>
    /// Reads the manifest in <paramref name="checkpointDirectory"/> and checks that it belongs to <paramref name="runId"/>
    /// and that every file it names has its recorded size and sha256; the files' paths come back absolute.
    /// </summary>
    /// <exception cref="InvalidDataException">The manifest is missing, unreadable, of another run or format, or a file does not match.</exception>
    public static RunManifest ReadVerified(string checkpointDirectory, string runId)
    {
        var path = Path.Combine(checkpointDirectory, FileName);
        RunManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<RunManifest>(File.ReadAllText(path), Json)
                ?? throw new InvalidDataException($"{path} is empty");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or NotSupportedException)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        if (manifest.Format != CurrentFormat)
            throw new InvalidDataException($"{path}: format is {manifest.Format}, this silo reads {CurrentFormat}");
        if (manifest.RunId != runId)
            throw new InvalidDataException($"{path}: run_id is '{manifest.RunId}', not '{runId}'");
        if (manifest.Files is null || manifest.Spec is null || manifest.Losses is null || manifest.Files.Count != manifest.Spec.ParameterServers)
            throw new InvalidDataException($"{path}: files must list one file for each of spec.parameter_servers");
        var absolute = manifest with { Files = [.. manifest.Files.Select(f => f with { Path = Path.Combine(checkpointDirectory, f.Path) })] };
        foreach (var file in absolute.Files) CheckpointFiles.Verify(file);
        return absolute;
    }

    /// <summary>
    /// The newest checkpoint of the run in <paramref name="runDirectory"/> that verifies, trying older ones when a newer
    /// one is partial or damaged (each reported to <paramref name="skipped"/>); null when there is none.
    /// </summary>
    public static RunManifest? NewestValid(string runDirectory, string runId, Action<string, InvalidDataException> skipped)
    {
        foreach (var directory in Checkpoints(runDirectory))
        {
            try
            {
                return ReadVerified(directory, runId);
            }
            catch (InvalidDataException e)
            {
                skipped(directory, e);
            }
        }
        return null;
    }

    /// <summary>Deletes all but the <paramref name="keep"/> newest checkpoints, so a long run's disk use stays bounded.</summary>
    public static void Prune(string runDirectory, int keep)
    {
        foreach (var directory in Checkpoints(runDirectory).Skip(keep))
            System.IO.Directory.Delete(directory, recursive: true);
    }

    // Newest first: the names sort by step.
    private static IEnumerable<string> Checkpoints(string runDirectory) => System.IO.Directory.Exists(runDirectory)
        ? System.IO.Directory.GetDirectories(runDirectory, "step-*").OrderDescending(StringComparer.Ordinal)
        : [];
}

/// <param name="Training">training.seed: the initial parameters (and dropout masks).</param>
/// <param name="Data">data.seed: which windows every batch index draws.</param>
public sealed record RunSeeds(ulong Training, long Data);
