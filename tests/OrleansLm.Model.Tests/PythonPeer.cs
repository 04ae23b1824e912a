using System.ComponentModel;
using System.Diagnostics;

namespace OrleansLm.Model.Tests;

/// <summary>
/// Runs a script from parity/ with Debian's python3 (which has python3-torch and numpy; the python3
/// on PATH may not). Scripts exit with 3 when they cannot import torch.
/// </summary>
public static class PythonPeer
{
    public const string PythonPath = "/usr/bin/python3";
    public const int TorchMissingExitCode = 3;
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(120);

    /// <summary>Runs parity/<paramref name="script"/>; returns null on success, else why it failed (with its stderr).</summary>
    public static string? TryRun(string script, IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "parity", script);
        if (!File.Exists(path)) return $"{path} is missing: the test project should copy parity/** to its output";
        if (!File.Exists(PythonPath))
            return $"{PythonPath} does not exist: these tests need Debian's python3 with python3-torch (apt-get install python3-torch)";

        var start = new ProcessStartInfo(PythonPath)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        // -E and -s keep PYTHON* variables and user site-packages out; unlike -I they leave the script's own
        // directory on sys.path, where the scripts' shared reference_runner.py lives.
        foreach (var argument in new[] { "-E", "-s", path }.Concat(arguments)) start.ArgumentList.Add(argument);
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
            var limit = timeout ?? DefaultTimeout;
            if (!process.WaitForExit(limit))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                return $"{script} did not finish within {limit.TotalSeconds} s; stderr:\n{stderr.Result}";
            }
            process.WaitForExit();
            return process.ExitCode switch
            {
                0 => null,
                TorchMissingExitCode => $"{PythonPath} cannot import torch, so {script} cannot run. Install python3-torch. stderr:\n{stderr.Result}",
                _ => $"{script} exited with {process.ExitCode}; stderr:\n{stderr.Result}\nstdout:\n{stdout.Result}",
            };
        }
    }

    /// <summary>Runs the script and fails the calling test with the script's error when it does not succeed.</summary>
    public static void Run(string script, params string[] arguments)
    {
        var error = TryRun(script, arguments);
        if (error is not null) throw new Xunit.Sdk.XunitException(error);
    }
}
