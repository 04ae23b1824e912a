using OrleansLm.Runtime.Activation;
using OrleansLm.Runtime.GrainDirectory;
using OrleansLm.Runtime.Placement;

namespace OrleansLm.Runtime.Invocation;

/// <summary>
/// Routes a call made on this silo: stateless workers and grains with a local activation run here; otherwise the
/// grain directory says where the activation is, or placement picks a silo for a new one. A call for another silo
/// goes to <see cref="IRemoteGrainCallSender"/>; if that silo is unreachable its directory entry is dropped, so the
/// next call re-places the grain (the failed call itself fails: it may have run there already).
/// </summary>
internal sealed class GrainCallRouter(
    GrainClassRegistry classes,
    Catalog catalog,
    IGrainDirectory directory,
    IPlacementDirector placement,
    IRemoteGrainCallSender remote) : IGrainCallRouter
{
    public Task<object?> InvokeAsync(GrainCall call)
    {
        GrainClass? grainClass;
        try
        {
            // Null on a silo without the implementation: the directory or placement sends the call elsewhere.
            grainClass = classes.Find(call.TargetId.Type);
        }
        catch (Exception e)
        {
            return Task.FromException<object?>(e);
        }
        return grainClass is { IsStatelessWorker: true } || catalog.HasActivation(call.TargetId)
            ? catalog.InvokeAsync(call)
            : RouteAsync(call, grainClass?.Placement ?? PlacementStrategy.Default);
    }

    private async Task<object?> RouteAsync(GrainCall call, PlacementStrategy strategy)
    {
        var grainId = call.TargetId;
        var silo = await directory.LookupAsync(grainId, call.CancellationToken).ConfigureAwait(false)
                   ?? await placement.PlaceAsync(new PlacementRequest(grainId, strategy), call.CancellationToken).ConfigureAwait(false);
        if (silo == catalog.LocalSilo) return await catalog.InvokeAsync(call).ConfigureAwait(false);
        try
        {
            return await remote.SendAsync(silo, call).ConfigureAwait(false);
        }
        catch (SiloUnavailableException e) when (e.Silo == silo)
        {
            await directory.UnregisterAsync(grainId, silo, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }
}
