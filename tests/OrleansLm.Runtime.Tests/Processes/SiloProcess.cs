using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using OrleansLm.Runtime.TestSilo;
using Xunit.Abstractions;

namespace OrleansLm.Runtime.Tests.Processes;

/// <summary>
/// A silo in its own process (tests/OrleansLm.Runtime.TestSilo, built beside the tests), optionally inside a network
/// namespace. Its logs go to the test's output; <see cref="StartAsync"/> returns once it printed its address.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    private readonly Process process;
    private readonly ITestOutputHelper output;
    private readonly string name;
    private readonly TaskCompletionSource<SiloAddress> ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<DateTimeOffset> declaredDead = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SiloProcess(Process process, ITestOutputHelper output, string name)
    {
        this.process = process;
        this.output = output;
        this.name = name;
    }

    public SiloAddress Address => ready.Task.IsCompletedSuccessfully ? ready.Task.Result : throw new InvalidOperationException($"{name} is not ready");

    /// <summary>Completes, with when its line arrived, once the process reports that it was declared dead (or found itself cut off) and stopped serving.</summary>
    public Task<DateTimeOffset> DeclaredDead => declaredDead.Task;

    public bool HasExited => process.HasExited;

    /// <param name="networkNamespace">Runs the silo inside this namespace (<c>ip netns exec</c>, which keeps the process id).</param>
    public static async Task<SiloProcess> StartAsync(
        ITestOutputHelper output, string name, string clusterId, string secret, string postgres, IPEndPoint listen, string? networkNamespace = null)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "OrleansLm.Runtime.TestSilo.dll");
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        string[] siloArguments = [dll, "--cluster", clusterId, "--secret", secret, "--postgres", postgres, "--listen", listen.ToString()];
        var start = networkNamespace is null
            ? new ProcessStartInfo(dotnet, siloArguments)
            : new ProcessStartInfo("ip", ["netns", "exec", networkNamespace, dotnet, .. siloArguments]);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var silo = new SiloProcess(process, output, name);
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
            throw new InvalidOperationException($"could not send SIGTERM to {name} (pid {process.Id}): errno {Marshal.GetLastPInvokeError()}");
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        await process.WaitForExitAsync().WaitAsync(timeout);
        return process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
        process.Dispose();
    }

    private void OnOutput(string? line)
    {
        if (line is null) return;
        Log(line);
        if (line.StartsWith(TestSiloHost.ReadyLine, StringComparison.Ordinal))
            ready.TrySetResult(SiloAddress.Parse(line[TestSiloHost.ReadyLine.Length..]));
        else if (line == TestSiloHost.DeclaredDeadLine)
            declaredDead.TrySetResult(DateTimeOffset.UtcNow);
    }

    private void Log(string? line)
    {
        if (line is null) return;
        try
        {
            output.WriteLine($"[{name}] {line}");
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
