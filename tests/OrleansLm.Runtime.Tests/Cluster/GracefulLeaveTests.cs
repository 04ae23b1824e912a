using OrleansLm.Runtime.Cluster;
using OrleansLm.Runtime.Membership;
using Xunit.Abstractions;

namespace OrleansLm.Runtime.Tests.Cluster;

/// <summary>
/// A graceful leave in order: ShuttingDown (no silo places new activations on it, its own included), the application's
/// before-deactivation hook while its activations still answer, then deactivation and its Dead row; a failing hook or
/// one that outlasts the stop's time does not keep it from leaving.
/// </summary>
public sealed class GracefulLeaveTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ClusterTestSilos cluster = new(output);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await cluster.DisposeAsync();

    [Fact]
    public async Task TheHookRunsWhileTheSiloIsShuttingDownWithItsActivationsAliveAndNoNewOnesPlacedOnIt()
    {
        var seen = new HookObservations();
        var stayers = new List<ClusterSilo> { await cluster.StartSiloAsync(), await cluster.StartSiloAsync() };
        var leaving = await cluster.StartSiloAsync(beforeDeactivation: async (silo, _) =>
        {
            seen.OwnRow = (await cluster.Table.ReadAllAsync(CancellationToken.None)).Entries.Single(e => e.Entry.Silo == silo.Address).Entry.Status;
            seen.ActivationsDuringHook = silo.Runtime.ActivationCount;
            await ClusterTestSilos.SeenAsync(stayers, silo, SiloStatus.ShuttingDown, TimeSpan.FromSeconds(5));
            // Random placement from every silo, the leaving one included, over keys never called before.
            var fresh = Enumerable.Range(0, 40).Select(i => $"fresh-{Guid.NewGuid():N}-{i}").ToArray();
            seen.FreshHomes = await Task.WhenAll(fresh.Select((key, i) =>
                (i % 3 == 0 ? silo : stayers[i % 2]).GrainFactory.GetGrain<IClusterGrain>(key).Where()));
            seen.ExistingAnswers = await Task.WhenAll(seen.KeysOnLeaving.Select(key => stayers[0].GrainFactory.GetGrain<IClusterGrain>(key).Where()));
        });
        await cluster.RefreshViewsAsync();
        var keys = Enumerable.Range(0, 40).Select(i => $"old-{Guid.NewGuid():N}-{i}").ToArray();
        var homes = await Task.WhenAll(keys.Select(key => stayers[0].GrainFactory.GetGrain<IClusterGrain>(key).Where()));
        seen.KeysOnLeaving = [.. keys.Where((_, i) => homes[i] == leaving.Address.ToString())];
        seen.KeysOnLeaving.Should().NotBeEmpty("random placement over three silos put some of 40 grains on each");
        var activationsBefore = leaving.Runtime.ActivationCount;

        await leaving.StopAsync(CancellationToken.None);

        seen.OwnRow.Should().Be(SiloStatus.ShuttingDown, "the hook runs after the silo said it is leaving");
        seen.ActivationsDuringHook.Should().Be(activationsBefore, "nothing is deactivated before the hook has run");
        seen.ExistingAnswers.Should().OnlyContain(home => home == leaving.Address.ToString(), "its activations still answer during the hook");
        seen.FreshHomes.Should().HaveCount(40).And.NotContain(leaving.Address.ToString(), "a ShuttingDown silo takes no new activations");
        leaving.Runtime.ActivationCount.Should().Be(0);
        var row = (await cluster.Table.ReadAllAsync(CancellationToken.None)).Entries.Single(e => e.Entry.Silo == leaving.Address).Entry;
        row.Status.Should().Be(SiloStatus.Dead);
        row.Suspicions.Should().BeEmpty();
    }

    [Fact]
    public async Task AFailingHookIsLoggedAndTheSiloStillDeactivatesAndLeaves()
    {
        await cluster.StartSiloAsync();
        var leaving = await cluster.StartSiloAsync(beforeDeactivation: (_, _) => throw new InvalidOperationException("the checkpoint volume is gone"));
        await cluster.RefreshViewsAsync();
        await leaving.GrainFactory.GetGrain<IClusterGrain>($"local-{Guid.NewGuid():N}").Where();

        await leaving.StopAsync(CancellationToken.None);

        leaving.Runtime.ActivationCount.Should().Be(0);
        (await cluster.Table.ReadAllAsync(CancellationToken.None)).Entries.Single(e => e.Entry.Silo == leaving.Address).Entry.Status
            .Should().Be(SiloStatus.Dead);
    }

    [Fact]
    public async Task AStopWhoseTimeRunsOutDuringTheHookStillWritesItsDeadRowPromptly()
    {
        await cluster.StartSiloAsync();
        var hookCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var leaving = await cluster.StartSiloAsync(beforeDeactivation: async (_, cancellation) =>
        {
            try
            {
                await Task.Delay(Timeout.Infinite, cancellation);
            }
            catch (OperationCanceledException)
            {
                hookCancelled.TrySetResult();
                throw;
            }
        });
        await cluster.RefreshViewsAsync();
        using var stopTime = new CancellationTokenSource(TimeSpan.FromSeconds(1));

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await leaving.StopAsync(stopTime.Token);

        hookCancelled.Task.IsCompleted.Should().BeTrue("the hook gets the stop's cancellation");
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(1) + MembershipService.LastWriteTimeout);
        (await cluster.Table.ReadAllAsync(CancellationToken.None)).Entries.Single(e => e.Entry.Silo == leaving.Address).Entry.Status
            .Should().Be(SiloStatus.Dead, "a leave out of time still says so instead of waiting to be voted out");
    }

    private sealed class HookObservations
    {
        public SiloStatus? OwnRow { get; set; }
        public int ActivationsDuringHook { get; set; } = -1;
        public string[] KeysOnLeaving { get; set; } = [];
        public string[] FreshHomes { get; set; } = [];
        public string[] ExistingAnswers { get; set; } = [];
    }
}
