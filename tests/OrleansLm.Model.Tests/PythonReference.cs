namespace OrleansLm.Model.Tests;

/// <summary>
/// Runs a reference script from parity/ that reads an input JSON file and writes an output JSON file,
/// both named on its command line (see <see cref="PythonPeer"/> for how the interpreter is run).
/// </summary>
internal static class PythonReference
{
    /// <summary>Runs parity/<paramref name="script"/> on <paramref name="inputJson"/>; returns why it failed, or null.</summary>
    public static string? Run(string script, string inputJson, out string outputJson)
    {
        outputJson = "";
        var directory = Directory.CreateTempSubdirectory("olm-parity-").FullName;
        try
        {
            var inputPath = Path.Combine(directory, "input.json");
            var outputPath = Path.Combine(directory, "output.json");
            File.WriteAllText(inputPath, inputJson);
            var error = PythonPeer.TryRun(script, [inputPath, outputPath])
                        ?? (File.Exists(outputPath) ? null : $"{script} wrote no results");
            if (error is null) outputJson = File.ReadAllText(outputPath);
            return error;
        }
        finally
        {
            try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
        }
    }
}
