using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansLm.Runtime.GrainDirectory;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Hosting;
using OrleansLm.Runtime.Invocation;
using OrleansLm.Runtime.Membership;
using OrleansLm.Runtime.Metrics;
using OrleansLm.Runtime.Placement;
using OrleansLm.Runtime.Transport;

namespace OrleansLm.Runtime.Cluster;

/// <summary>
/// A silo of a cluster: <see cref="TcpSiloTransport"/>, <see cref="MembershipService"/> (probing with the
/// transport's ping) and <see cref="SiloRuntime"/> with the distributed directory, membership-based placement and
/// the transport as its remote path. <see cref="StartAsync"/> listens, starts the runtime and joins;
/// <see cref="StopAsync"/> leaves gracefully (ShuttingDown, the application's
/// <see cref="ClusterSiloOptions.BeforeDeactivation"/> hook, activations deactivated, Dead). A silo the cluster declares dead stops serving at once, without calling anyone, and completes <see cref="DeclaredDead"/>: the host
/// process should then exit. <see cref="DisposeAsync"/> (and <see cref="CrashAsync"/>) stop without leaving.
/// </summary>
public sealed class ClusterSilo : IAsyncDisposable
{
    private readonly TcpSiloTransport transport;
    private readonly IMembershipTable table;
    private readonly bool ownsTable;
    private readonly MembershipService membership;
    private readonly MembershipMetrics membershipMetrics;
    private readonly DistributedGrainDirectory directory;
    private readonly ServiceProvider services;
    private readonly ILogger logger;
    private readonly Func<CancellationToken, Task>? beforeDeactivation;
    private readonly TaskCompletionSource declaredDead = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ConsistentHashRing handedOffRing = new([]);
    private Task handOff = Task.CompletedTask;
    private int handOffRequested;
    private int handOffRunning;
    private readonly Lazy<Task> tearDown;
    private readonly Lock leaveGate = new();
    private Task? leave;

    /// <param name="configureGrains">Registers the grain classes this silo hosts (and any services they need).</param>
    public ClusterSilo(ClusterSiloOptions options, Action<IGrainRuntimeBuilder> configureGrains, ILoggerFactory? loggers = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(configureGrains);
        options.Validate();
        loggers ??= NullLoggerFactory.Instance;
        logger = loggers.CreateLogger<ClusterSilo>();
        beforeDeactivation = options.BeforeDeactivation;
        transport = new TcpSiloTransport(
            new TransportOptions { ListenEndPoint = options.EndPoint, AdvertisedHost = options.AdvertisedHost, ClusterSecret = options.ClusterSecret },
            loggers.CreateLogger<TcpSiloTransport>());
        var details = new ClusterSiloDetails(transport, options.Roles, options.Devices);
        (table, ownsTable) = options switch
        {
            { MembershipTable: { } shared } => (shared, false),
            { PostgresConnectionString: { } connection } => (new PostgresMembershipTable(new PostgresMembershipOptions(connection, options.ClusterId)), true),
            _ => (new InMemoryMembershipTable(), true),
        };
        membership = new MembershipService(table, details, options.Membership, transport.PingAsync, OnDeclaredDead, DrainAsync, TimeProvider.System,
            loggers.CreateLogger<MembershipService>());
        directory = new DistributedGrainDirectory(transport, details, LocalActivations, membership.RefreshAsync, options.DirectoryRequestTimeout,
            loggers.CreateLogger<DistributedGrainDirectory>());

        var collection = new ServiceCollection();
        configureGrains(collection.AddGrainRuntime(options.ConfigureRuntime));
        collection.AddSingleton(loggers)
            .AddSingleton(typeof(ILogger<>), typeof(Logger<>))
            .AddSingleton<ILocalSiloDetails>(details)
            .AddSingleton<IGrainDirectory>(directory)
            .AddSingleton<IRemoteGrainCallSender>(sp => new TransportGrainCallSender(transport, () => sp.GetRequiredService<SiloRuntime>().Codec))
            .AddSingleton<IPlacementCandidates>(sp =>
                new MembershipPlacementCandidates(() => membership.View, details, () => sp.GetRequiredService<SiloRuntime>().DeviceActivations));
        services = collection.BuildServiceProvider();
        Runtime = services.GetRequiredService<SiloRuntime>();
        membership.ViewChanged += OnViewChanged;
        membershipMetrics = new MembershipMetrics(membership);
        tearDown = new Lazy<Task>(TearDownOnceAsync);
    }

    /// <summary>This silo's address (after <see cref="StartAsync"/>).</summary>
    public SiloAddress Address => transport.LocalAddress;

    public IGrainFactory GrainFactory => Runtime.GrainFactory;

    public SiloRuntime Runtime { get; }

    public MembershipService Membership => membership;

    public DistributedGrainDirectory Directory => directory;

    public ISiloTransport Transport => transport;

    /// <summary>Completes once the cluster declared this silo dead (or it found itself cut off) and it stopped serving; the host should exit.</summary>
    public Task DeclaredDead => declaredDead.Task;

    /// <summary>Listens, starts the grain runtime, joins the cluster, and reads the view that has this silo Active.</summary>
    public async Task StartAsync(CancellationToken cancellation)
    {
        await transport.StartAsync(new ClusterRequestHandler(Runtime, directory), cancellation).ConfigureAwait(false);
        await Runtime.StartAsync(cancellation).ConfigureAwait(false);
        await membership.JoinAsync(cancellation).ConfigureAwait(false);
        // The join publishes the table as read before its last write; this read has the silo Active on its own ring.
        await membership.RefreshAsync(cancellation).ConfigureAwait(false);
        logger.LogInformation("silo {Silo} joined the cluster", Address);
    }

    /// <summary>
    /// Leaves gracefully: ShuttingDown, the before-deactivation hook, every activation deactivated (their grains re-place elsewhere on the next call),
    /// Dead, then stops. Leaves once: a second call (a host may stop its services twice) waits for the first.
    /// </summary>
    public Task StopAsync(CancellationToken cancellation)
    {
        lock (leaveGate)
            return leave ??= LeaveAsync(cancellation);
    }

    private async Task LeaveAsync(CancellationToken cancellation)
    {
        try
        {
            await membership.LeaveAsync(cancellation).ConfigureAwait(false);
        }
        finally
        {
            await TearDownAsync().ConfigureAwait(false);
        }
    }

    /// <summary>What a crash looks like to the others: stops serving and probing without touching the membership table.</summary>
    public Task CrashAsync() => TearDownAsync();

    public async ValueTask DisposeAsync() => await TearDownAsync().ConfigureAwait(false);

    private async Task DrainAsync(CancellationToken cancellation)
    {
        if (beforeDeactivation is not null)
        {
            try
            {
                await beforeDeactivation(cancellation).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellation.IsCancellationRequested)
            {
                logger.LogWarning(e, "silo {Silo}: saving the grains' state before deactivating them failed; deactivating anyway", Address);
            }
        }
        await Runtime.StopAsync(cancellation).ConfigureAwait(false);
    }

    private IReadOnlyList<GrainId> LocalActivations() => Runtime.RegisteredGrains();

    private void OnDeclaredDead() =>
        // Runs on a membership loop, which tearing down waits for: continue elsewhere.
        _ = TearDownAsync();

    /// <summary>Runs under the membership view's lock: only quick work here, the hand-off runs on its own.</summary>
    private void OnViewChanged(MembershipViewChange change)
    {
        foreach (var dead in change.Changes.Where(c => c.Current == SiloStatus.Dead && c.Silo != Address))
            transport.MarkDead(dead.Silo);
        directory.ApplyView(change.Current);
        RequestHandOff();
    }

    /// <summary>Starts a hand-off unless one runs; one that runs goes round again when asked meanwhile.</summary>
    private void RequestHandOff()
    {
        Volatile.Write(ref handOffRequested, 1);
        if (tearDown.IsValueCreated || Interlocked.CompareExchange(ref handOffRunning, 1, 0) != 0) return;
        handOff = Task.Run(async () =>
        {
            do
            {
                while (Interlocked.Exchange(ref handOffRequested, 0) == 1 && !tearDown.IsValueCreated)
                    await HandOffAsync().ConfigureAwait(false);
                Volatile.Write(ref handOffRunning, 0);
            }
            // A request that came after the loop's last check but before it stood down would otherwise wait for the next view.
            while (Volatile.Read(ref handOffRequested) == 1 && Interlocked.CompareExchange(ref handOffRunning, 1, 0) == 0);
        });
    }

    /// <summary>
    /// Re-registers this silo's activations whose directory owner changed since the last hand-off; an activation
    /// whose new owner already names another silo is a duplicate (both were placed while the views disagreed) and is
    /// deactivated, its waiting calls then forwarded to the winner. A silo not Active itself hands nothing off: it is
    /// leaving, and its activations are going.
    /// </summary>
    private async Task HandOffAsync()
    {
        var ring = directory.Ring;
        var previous = handedOffRing;
        handedOffRing = ring;
        if (!ring.Members.Contains(Address)) return;
        foreach (var grainId in Runtime.RegisteredGrains())
        {
            var key = grainId.ToString();
            if (ring.Owner(key) == previous.Owner(key)) continue;
            try
            {
                var winner = await directory.RegisterAsync(grainId, Address).ConfigureAwait(false);
                if (winner != Address)
                {
                    logger.LogInformation("{Grain} is also active on {Winner}: deactivating the duplicate here", grainId, winner);
                    Runtime.Deactivate(grainId, DeactivationReason.DuplicateActivation);
                }
                else if (!Runtime.HasActivation(grainId))
                {
                    // It went away while being re-registered: take back the registration it would otherwise leave behind.
                    await directory.UnregisterAsync(grainId, Address).ConfigureAwait(false);
                }
            }
            catch (Exception e)
            {
                logger.LogWarning("handing off the directory entry of {Grain} failed: {Reason}", grainId, e.Message);
            }
        }
    }

    /// <summary>Tears down once; every caller waits for that one.</summary>
    private Task TearDownAsync() => tearDown.Value;

    /// <summary>
    /// Stops serving without calling anyone: the directory detaches and the transport closes (no call in or out from
    /// then on), the local activations are deactivated (their unregistrations are skipped; the cluster drops them as
    /// this silo goes Dead), and a declared-dead silo reports <see cref="DeclaredDead"/>. Only then do the membership
    /// loops stop and the table client close, which may wait for a table call to time out when the database is out of reach.
    /// </summary>
    private async Task TearDownOnceAsync()
    {
        directory.Detach();
        await transport.DisposeAsync().ConfigureAwait(false);
        await Runtime.StopAsync(CancellationToken.None).ConfigureAwait(false);
        if (membership.IsDeclaredDead) declaredDead.TrySetResult();
        await membership.DisposeAsync().ConfigureAwait(false);
        membershipMetrics.Dispose();
        await handOff.ConfigureAwait(false);
        await services.DisposeAsync().ConfigureAwait(false);
        if (ownsTable && table is IAsyncDisposable disposable) await disposable.DisposeAsync().ConfigureAwait(false);
    }
}
