using Microsoft.Extensions.Options;
using OrleansLm.Runtime;
using OrleansLm.Runtime.Cluster;
using OrleansLm.Runtime.Hosting;
using OrleansLm.Silo.Runs;

namespace OrleansLm.Silo.Hosting;

/// <summary>
/// Runs this process's <see cref="ClusterSilo"/> with the host: joins on start, prints <see cref="ReadyLine"/> once
/// the host has started, leaves gracefully on stop (SIGTERM: ShuttingDown, runs handed off by <see cref="RunHandOff"/>,
/// activations deactivated, Dead, all within Silo:ShutdownSeconds), and stops the process, with exit code
/// <see cref="DeclaredDeadExitCode"/>, when the cluster declares it dead.
/// </summary>
public sealed class ClusterHost(
    IOptions<ClusterOptions> options, Action<IGrainRuntimeBuilder> configureGrains, RunHandOff handOff, ILoggerFactory loggers,
    IHostApplicationLifetime lifetime)
    : IHostedService, IAsyncDisposable
{
    public const int DeclaredDeadExitCode = 3;

    /// <summary>
    /// Printed on standard output, followed by the silo address, once the silo is an Active member of its cluster and
    /// the whole host (HTTP included) has started: one line that whatever starts silo processes (tests, scripts) can
    /// wait for, whatever the logging configuration.
    /// </summary>
    public const string ReadyLine = "READY ";

    private readonly ILogger logger = loggers.CreateLogger<ClusterHost>();
    private ClusterSilo? silo;

    public ClusterSilo Silo => silo ?? throw new InvalidOperationException("the cluster silo has not started");

    /// <summary>This silo's address once it has joined its cluster (its port is chosen at start when configured as 0); null before.</summary>
    public SiloAddress? Address { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var siloOptions = options.Value.ToSiloOptions();
        siloOptions.BeforeDeactivation = cancellation => handOff.HandOffAsync(Silo, cancellation);
        silo = new ClusterSilo(siloOptions, configureGrains, loggers);
        await silo.StartAsync(cancellationToken);
        Address = silo.Address;
        lifetime.ApplicationStarted.Register(() => Console.Out.WriteLine(ReadyLine + silo.Address));
        _ = silo.DeclaredDead.ContinueWith(_ =>
        {
            logger.LogCritical("the cluster declared silo {Silo} dead; stopping the process", silo.Address);
            Environment.ExitCode = DeclaredDeadExitCode;
            lifetime.StopApplication();
        }, TaskScheduler.Default);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (silo is null || silo.DeclaredDead.IsCompleted) return;
        await silo.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (silo is not null) await silo.DisposeAsync();
    }
}
