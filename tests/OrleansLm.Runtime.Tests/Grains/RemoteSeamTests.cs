using Microsoft.Extensions.DependencyInjection;
using OrleansLm.Runtime.GrainDirectory;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Hosting;
using OrleansLm.Runtime.Invocation;

namespace OrleansLm.Runtime.Tests.Grains;

/// <summary>
/// Several silo runtimes in one process joined through the cluster seams: a shared in-memory grain directory and a
/// remote sender that carries every call through the codec's bytes, standing in for the transport.
/// </summary>
public sealed class RemoteSeamTests
{
    [Fact]
    public async Task ConcurrentFirstCallsFromTwoSilosYieldOneActivation()
    {
        await using var cluster = await LoopbackCluster.StartAsync(2);
        var references = cluster.Silos.Select(s => s.Runtime.GrainFactory.GetGrain<IPreferLocalGrain>("shared")).ToArray();

        var ids = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => Task.Run(references[i % 2].Ping))).WaitAsync(Wait.Bound);

        ids.Distinct().Should().ContainSingle();
        cluster.Probe.Constructed.Should().Be(1);
        cluster.Silos.Sum(s => s.Runtime.ActivationCount).Should().Be(1);
        cluster.RemoteCalls.Should().BeGreaterThan(0, "the silo that lost the registration forwarded its calls");
        cluster.Directory.Count.Should().Be(1);
    }

    [Fact]
    public async Task CallsReachAnActivationOnAnotherSiloThroughTheCodec()
    {
        await using var cluster = await LoopbackCluster.StartAsync(2);
        var (home, away) = (cluster.Silos[0].Runtime, cluster.Silos[1].Runtime);
        var onHome = await home.GrainFactory.GetGrain<IPreferLocalGrain>("g").Ping();

        var fromAway = await away.GrainFactory.GetGrain<IPreferLocalGrain>("g").Ping();
        var scaled = await away.GrainFactory.GetGrain<ICodecGrain>("c").Scale([1f, -2f], 3f, CancellationToken.None);

        fromAway.Should().Be(onHome);
        scaled.Should().Equal(3f, -6f);
        (await cluster.Directory.LookupAsync(GrainId.Create(typeof(IPreferLocalGrain), "g"))).Should().Be(home.Address);
        await FluentActions.Awaiting(() => home.GrainFactory.GetGrain<IErrorGrain>("e").ThrowCustom("diverged"))
            .Should().ThrowAsync<RunDivergedException>("a grain on the caller's silo throws the original exception");
        var remote = await FluentActions.Awaiting(() => away.GrainFactory.GetGrain<IErrorGrain>("e").ThrowCustom("diverged"))
            .Should().ThrowAsync<GrainCallException>("the same grain called from the other silo");
        remote.Which.RemoteType.Should().Be(typeof(RunDivergedException).FullName);
    }

    [Fact]
    public async Task AnUnreachableSiloKeepsItsDirectoryEntrySoNoSecondActivationIsPlaced()
    {
        await using var cluster = await LoopbackCluster.StartAsync(1);
        var silo = cluster.Silos[0].Runtime;
        var gone = new SiloAddress("127.0.0.1", 1, 1);
        var grainId = GrainId.Create(typeof(IPreferLocalGrain), "orphan");
        await cluster.Directory.RegisterAsync(grainId, gone);
        var grain = silo.GrainFactory.GetGrain<IPreferLocalGrain>("orphan");

        // Unreachable from here is not dead: only membership may decide the grain can live elsewhere.
        for (var call = 0; call < 2; call++)
            await FluentActions.Awaiting(grain.Ping).Should().ThrowAsync<SiloUnavailableException>();

        (await cluster.Directory.LookupAsync(grainId)).Should().Be(gone);
        silo.HasActivation(grainId).Should().BeFalse();
    }

    private sealed class LoopbackCluster : IAsyncDisposable
    {
        private readonly Dictionary<SiloAddress, SiloRuntime> byAddress = [];
        private int remoteCalls;

        public InMemoryGrainDirectory Directory { get; } = new();

        public GrainProbe Probe { get; } = new();

        public List<TestSiloHandle> Silos { get; } = [];

        public int RemoteCalls => Volatile.Read(ref remoteCalls);

        public static async Task<LoopbackCluster> StartAsync(int count)
        {
            var cluster = new LoopbackCluster();
            for (var i = 0; i < count; i++)
            {
                var address = new SiloAddress("127.0.0.1", 20_000 + i, 1);
                var services = new ServiceCollection();
                services.AddGrainRuntime().AddGrainsFromAssembly(typeof(TestSilo).Assembly);
                services.AddSingleton(cluster.Probe)
                    .AddSingleton<IGrainDirectory>(cluster.Directory)
                    .AddSingleton<ILocalSiloDetails>(new LocalSiloDetails(address))
                    .AddSingleton<IRemoteGrainCallSender>(sp => new LoopbackSender(cluster, sp));
                var provider = services.BuildServiceProvider();
                var runtime = provider.GetRequiredService<SiloRuntime>();
                await runtime.StartAsync(CancellationToken.None);
                cluster.byAddress[address] = runtime;
                cluster.Silos.Add(new TestSiloHandle(runtime, provider));
            }
            return cluster;
        }

        public async ValueTask DisposeAsync()
        {
            Probe.Gate.TrySetResult();
            foreach (var silo in Silos)
            {
                await silo.Runtime.StopAsync(CancellationToken.None);
                await silo.Services.DisposeAsync();
            }
        }

        /// <summary>Encodes with the sending silo's codec, lets the target answer the bytes, decodes the answer.</summary>
        private sealed class LoopbackSender(LoopbackCluster cluster, IServiceProvider services) : IRemoteGrainCallSender
        {
            public async Task<object?> SendAsync(SiloAddress silo, GrainCall call)
            {
                Interlocked.Increment(ref cluster.remoteCalls);
                if (!cluster.byAddress.TryGetValue(silo, out var target)) throw new SiloUnavailableException(silo, "not in this cluster");
                var codec = services.GetRequiredService<SiloRuntime>().Codec;
                var response = await target.HandleRemoteCallAsync(codec.EncodeRequest(call).ToArray(), call.CancellationToken);
                return codec.DecodeResponse(call.Method, response.Span);
            }
        }
    }

    private sealed record TestSiloHandle(SiloRuntime Runtime, ServiceProvider Services);
}
