using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using OrleansLm.Runtime;
using Xunit.Abstractions;

namespace OrleansLm.Testing.Processes;

/// <summary>
/// A silo in its own process, started from a <see cref="SiloLaunch"/>. Its output goes to the test's output, each
/// line prefixed with its name; <see cref="StartAsync"/> returns once it printed its address.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    private readonly Process process;
    private readonly ITestOutputHelper output;
    private readonly TaskCompletionSource<SiloAddress> ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<DateTimeOffset> declaredDead = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<string> lines = new();
    private bool disposed;

    private SiloProcess(Process process, ITestOutputHelper output, string name, SiloLaunch launch)
    {
        this.process = process;
        this.output = output;
        Name = name;
        Launch = launch;
    }

    public string Name { get; }

    /// <summary>How it was started: <see cref="ProcessCluster.RestartAsync"/> starts a new process the same way.</summary>
    public SiloLaunch Launch { get; }

    public SiloAddress Address => ready.Task.IsCompletedSuccessfully ? ready.Task.Result : throw new InvalidOperationException($"{Name} is not ready");

    /// <summary>Completes, with when its line arrived, once the process reports that it was declared dead (or found itself cut off) and stopped serving.</summary>
    public Task<DateTimeOffset> DeclaredDead => Launch.DeclaredDeadLine is not null
        ? declaredDead.Task
        : throw new InvalidOperationException($"{Name} prints no line when it is declared dead: wait for its exit code instead");

    public bool HasExited => disposed || process.HasExited;

    /// <summary>Every line it has printed so far, standard output and error, for tests that look for what it logged.</summary>
    public IReadOnlyCollection<string> Lines => lines;

    public static async Task<SiloProcess> StartAsync(ITestOutputHelper output, string name, SiloLaunch launch)
    {
        var start = new ProcessStartInfo(launch.FileName, launch.Arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = launch.WorkingDirectory ?? "",
        };
        foreach (var (variable, value) in launch.Environment)
            start.Environment[variable] = value;

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var silo = new SiloProcess(process, output, name, launch);
        process.OutputDataReceived += (_, line) => silo.OnOutput(line.Data);
        process.ErrorDataReceived += (_, line) => silo.Log(line.Data);
        process.Exited += (_, _) => silo.ready.TrySetException(new InvalidOperationException($"{name} exited with code {process.ExitCode} before it was ready"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await silo.ready.Task.WaitAsync(ReadyTimeout);
            return silo;
        }
        catch
        {
            await silo.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGKILL: the process vanishes without a word to anyone, as a crashed machine would.</summary>
    public void Kill() => process.Kill();

    /// <summary>SIGTERM: the silo leaves gracefully and exits.</summary>
    public void Terminate()
    {
        if (SendSignal(process.Id, SigTerm) != 0)
            throw new InvalidOperationException($"could not send SIGTERM to {Name} (pid {process.Id}): errno {Marshal.GetLastPInvokeError()}");
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        await process.WaitForExitAsync().WaitAsync(timeout);
        return process.ExitCode;
    }

    /// <summary>Kills the process if it still runs.</summary>
    public async ValueTask DisposeAsync()
    {
        if (disposed) return;
        if (!process.HasExited)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
        process.Dispose();
        disposed = true;
    }

    private void OnOutput(string? line)
    {
        if (line is null) return;
        Log(line);
        if (line.StartsWith(Launch.ReadyPrefix, StringComparison.Ordinal))
            ready.TrySetResult(SiloAddress.Parse(line[Launch.ReadyPrefix.Length..]));
        else if (line == Launch.DeclaredDeadLine)
            declaredDead.TrySetResult(DateTimeOffset.UtcNow);
    }

    private void Log(string? line)
    {
        if (line is null) return;
        lines.Enqueue(line);
        try
        {
            output.WriteLine($"[{Name}] {line}");
        }
        catch (InvalidOperationException)
        {
            // The test has finished: xUnit no longer takes its output.
        }
    }

    private const int SigTerm = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);
}
