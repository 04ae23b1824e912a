using System.Diagnostics;
using System.Runtime.InteropServices;

namespace OrleansLm.Integration.Tests;

/// <summary>Runs the real <c>olm</c> executable as a child process, as a user would.</summary>
internal static class OlmProcess
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    public static Task<(int ExitCode, string Output)> RunOlm(params string[] arguments) => RunOlm(new Dictionary<string, string?>(), arguments);

    /// <param name="environment">Variables to set for the child, or (null) to remove from what it inherits.</param>
    public static async Task<(int ExitCode, string Output)> RunOlm(IReadOnlyDictionary<string, string?> environment, params string[] arguments)
    {
        using var process = Start(environment, arguments);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"olm {string.Join(' ', arguments)} did not finish in {Limit}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>Starts olm with its standard output and error redirected, for a test that talks to it while it runs.</summary>
    public static Process Start(IReadOnlyDictionary<string, string?> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "olm.dll"));
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment) start.Environment[name] = value;
        return Process.Start(start)!;
    }

    /// <summary>Sends SIGINT, as Ctrl+C in a terminal does.</summary>
    public static void Interrupt(Process process)
    {
        if (Kill(process.Id, 2) != 0) throw new InvalidOperationException($"could not send SIGINT to olm (pid {process.Id}): errno {Marshal.GetLastPInvokeError()}");
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
