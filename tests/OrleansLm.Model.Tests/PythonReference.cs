using System.ComponentModel;
using System.Diagnostics;

namespace OrleansLm.Model.Tests;

/// <summary>
/// Runs a reference script from parity/ with Debian's /usr/bin/python3 (which has python3-torch) on a JSON
/// input and returns its JSON output, or why it could not. Scripts exit with 3 when torch cannot be imported.
/// </summary>
internal static class PythonReference
{
    public const string PythonPath = "/usr/bin/python3";

    public static readonly TimeSpan ScriptTimeout = TimeSpan.FromSeconds(120);

    public static (string? Output, string? Error) Run(string scriptName, string inputJson)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"olm-{Path.GetFileNameWithoutExtension(scriptName)}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        try
        {
            var inputPath = Path.Combine(directory, "input.json");
            var outputPath = Path.Combine(directory, "output.json");
            File.WriteAllText(inputPath, inputJson);
            var error = RunScript(scriptName, inputPath, outputPath);
            return error is null ? (File.ReadAllText(outputPath), null) : (null, error);
        }
        catch (IOException e)
        {
            return (null, $"exchanging files with {scriptName} failed: {e}");
        }
        finally
        {
            try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
        }
    }

    private static string? RunScript(string scriptName, string inputPath, string outputPath)
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
