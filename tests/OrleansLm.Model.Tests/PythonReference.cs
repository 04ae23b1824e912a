using System.ComponentModel;
using System.Diagnostics;

namespace OrleansLm.Model.Tests;

/// <summary>
/// Runs a reference script from parity/ with Debian's /usr/bin/python3 + python3-torch: the script reads
/// an input JSON file and writes an output JSON file, both named on its command line.
/// </summary>
internal static class PythonReference
{
    /// <summary>Debian's interpreter, which has python3-torch; the python3 on PATH may be a pyenv without torch.</summary>
    public const string PythonPath = "/usr/bin/python3";

    public static readonly TimeSpan ScriptTimeout = TimeSpan.FromSeconds(120);

    /// <summary>Runs parity/<paramref name="script"/> on <paramref name="inputJson"/>; returns why it failed, or null.</summary>
    public static string? Run(string script, string inputJson, out string outputJson)
    {
        outputJson = "";
        var directory = Path.Combine(Path.GetTempPath(), $"olm-parity-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        try
        {
            var inputPath = Path.Combine(directory, "input.json");
            var outputPath = Path.Combine(directory, "output.json");
            File.WriteAllText(inputPath, inputJson);
            var error = RunProcess(script, inputPath, outputPath);
            if (error is null) outputJson = File.ReadAllText(outputPath);
            return error;
        }
        finally
        {
            try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
        }
    }

    private static string? RunProcess(string scriptName, string inputPath, string outputPath)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "parity", scriptName);
        if (!File.Exists(script)) return $"{script} is missing: the test project should copy parity/** to its output";
        if (!File.Exists(PythonPath))
            return $"{PythonPath} does not exist: the parity tests need Debian's python3 with python3-torch (apt-get install python3-torch)";

        var start = new ProcessStartInfo(PythonPath)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-I", script, inputPath, outputPath }) start.ArgumentList.Add(argument);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("Process.Start returned null");
        }
        catch (Win32Exception e)
        {
            return $"cannot start {PythonPath}: {e.Message}";
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(ScriptTimeout))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                return $"{scriptName} did not finish within {ScriptTimeout.TotalSeconds} s; stderr:\n{stderr.Result}";
            }
            process.WaitForExit();
            if (process.ExitCode == 3)
                return $"{PythonPath} cannot import torch, so PyTorch parity cannot be checked. Install python3-torch. stderr:\n{stderr.Result}";
            if (process.ExitCode != 0)
                return $"{scriptName} exited with {process.ExitCode}; stderr:\n{stderr.Result}\nstdout:\n{stdout.Result}";
            return File.Exists(outputPath) ? null : $"{scriptName} wrote no results; stderr:\n{stderr.Result}";
        }
    }
}
