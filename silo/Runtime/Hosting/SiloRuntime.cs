using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansLm.Runtime.Activation;
using OrleansLm.Runtime.GrainDirectory;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Invocation;
using OrleansLm.Runtime.Metrics;
using OrleansLm.Runtime.Placement;

namespace OrleansLm.Runtime.Hosting;

/// <summary>
/// The grain runtime of one silo: catalog, router, grain factory, codec and idle collector, put together from DI
/// (see <see cref="GrainRuntimeServiceCollectionExtensions.AddGrainRuntime"/>). The cluster seams come from DI too
/// and default to a silo on its own: <see cref="IGrainDirectory"/> (in memory), <see cref="IPlacementDirector"/>
/// (<see cref="PlacementDirector"/> over <see cref="IPlacementCandidates"/>, by default this silo alone),
/// <see cref="IRemoteGrainCallSender"/> (none), <see cref="ILocalSiloDetails"/> (loopback). Calls from other silos
/// enter through <see cref="HandleRemoteCallAsync"/> or <see cref="InvokeIncomingAsync"/>.
/// </summary>
public sealed class SiloRuntime : IHostedService, IAsyncDisposable
{
    private readonly GrainRuntimeOptions options;
    private readonly ILocalSiloDetails localSilo;
    private readonly Catalog catalog;
    private readonly GrainFactory grainFactory;
    private readonly GrainCallMetrics metrics;
    private readonly ILogger logger;
    private readonly CancellationTokenSource stopCollector = new();
    private Task? collector;
    private int phase;

    public SiloRuntime(IServiceProvider services)
    {
        options = services.GetService<IOptions<GrainRuntimeOptions>>()?.Value ?? new GrainRuntimeOptions();
        options.Validate();
        var classes = services.GetRequiredService<GrainClassRegistry>();
        classes.Freeze();
        var time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        localSilo = services.GetService<ILocalSiloDetails>() ?? LocalSiloDetails.Loopback();
        var directory = services.GetService<IGrainDirectory>() ?? new InMemoryGrainDirectory();
        var remote = services.GetService<IRemoteGrainCallSender>() ?? NoRemoteSilos.Instance;
        var loggers = services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
        logger = loggers.CreateLogger<SiloRuntime>();

        catalog = new Catalog(classes, services, directory, remote, services.GetServices<IIncomingGrainCallFilter>().ToArray(), options, time,
            localSilo.Devices, loggers.CreateLogger<Catalog>());
        var placement = services.GetService<IPlacementDirector>()
                        ?? new PlacementDirector(services.GetService<IPlacementCandidates>() ?? new LocalPlacementCandidates(localSilo, catalog), localSilo);
        var router = new GrainCallRouter(classes, catalog, directory, placement, remote);
        var outgoing = new OutgoingCalls(router, services.GetServices<IOutgoingGrainCallFilter>().ToArray(), options.CallTimeout, time);
        grainFactory = new GrainFactory(outgoing);
        catalog.GrainFactory = grainFactory;
        metrics = new GrainCallMetrics(catalog.ActivationTypes);
        catalog.Metrics = metrics;
        Codec = new GrainCallCodec(grainFactory);
    }

    public IGrainFactory GrainFactory => grainFactory;

    /// <summary>Encodes calls and responses for the remote path.</summary>
    public GrainCallCodec Codec { get; }

    /// <summary>This silo's address, as read from <see cref="ILocalSiloDetails"/> at start.</summary>
    public SiloAddress Address => catalog.LocalSilo;

    /// <summary>Live activations on this silo, stateless workers included.</summary>
    public int ActivationCount => catalog.Count;

    /// <summary>Activations here that each hold one of the silo's devices.</summary>
    public int DeviceActivations => catalog.DeviceActivations;

    /// <summary>The grains with a (directory-registered) activation on this silo: what a directory hand-off re-registers, and what a leaving silo saves.</summary>
    public IReadOnlyList<GrainId> RegisteredGrains() => catalog.RegisteredGrains();

    internal bool HasActivation(GrainId grainId) => catalog.HasActivation(grainId);

    /// <summary>Deactivates the local activation of <paramref name="grainId"/>, e.g. a duplicate another silo won the registration of.</summary>
    internal void Deactivate(GrainId grainId, DeactivationReason reason) => catalog.Deactivate(grainId, reason);

    /// <summary>Starts accepting calls and the idle collector.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref phase, 1, 0) != 0) throw new InvalidOperationException("the silo runtime was already started");
        catalog.Start(localSilo.Address);
        collector = CollectIdleLoopAsync(stopCollector.Token);
        logger.LogInformation("grain runtime started on {Silo}", catalog.LocalSilo);
        return Task.CompletedTask;
    }

    /// <summary>Graceful stop: refuses new calls, lets running ones finish and deactivates every activation (OnDeactivateAsync).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref phase, 2, 1) != 1) return;
        await stopCollector.CancelAsync().ConfigureAwait(false);
        await collector!.ConfigureAwait(false);
        await catalog.DeactivateAllAsync(cancellationToken).ConfigureAwait(false);
        logger.LogInformation("grain runtime stopped on {Silo}", catalog.LocalSilo);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        stopCollector.Dispose();
        metrics.Dispose();
    }

    /// <summary>Runs a call another silo placed here (decoded from its request) on this silo's activation.</summary>
    public Task<object?> InvokeIncomingAsync(GrainCall call) => catalog.InvokeAsync(call);

    /// <summary>
    /// A grain-call request from another silo, answered: decodes it, runs it here, encodes the result or the
    /// exception (a request that cannot be decoded is answered with the decoding error).
    /// </summary>
    public async Task<ReadOnlyMemory<byte>> HandleRemoteCallAsync(ReadOnlyMemory<byte> request, CancellationToken cancellation)
    {
        GrainCall call;
        try
        {
            call = Codec.DecodeRequest(request.Span, cancellation);
        }
        catch (Exception e)
        {
            return Codec.EncodeException(e);
        }
        try
        {
            return Codec.EncodeResult(call.Method, await InvokeIncomingAsync(call).ConfigureAwait(false));
        }
        catch (Exception e)
        {
            return Codec.EncodeException(e);
        }
    }

    /// <summary>One pass of the idle collector, now; returns how many activations it deactivated.</summary>
    public Task<int> CollectIdleActivationsAsync() => catalog.CollectIdleAsync();

    private async Task CollectIdleLoopAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(options.CollectionQuantum, catalog.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                try
                {
                    await catalog.CollectIdleAsync().ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    logger.LogError(e, "idle collection failed");
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopping.
        }
    }
}
