using OrleansLm.Runtime.Activation;
using OrleansLm.Runtime.GrainDirectory;
using OrleansLm.Runtime.Placement;

namespace OrleansLm.Runtime.Invocation;

/// <summary>
/// Routes a call made on this silo: stateless workers and grains with a local activation run here; otherwise the
/// grain directory says where the activation is, or placement picks a silo for a new one. A call for another silo
/// goes to <see cref="IRemoteGrainCallSender"/>; if that silo is unreachable the call fails fast and the entry stays
/// until the cluster declares the silo dead, after which the next call re-places the grain.
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
        if (await directory.LookupAsync(grainId, call.CancellationToken).ConfigureAwait(false) is { } registered)
            return await SendAsync(registered, call).ConfigureAwait(false);
        // A silo whose last device went to another placement meanwhile refuses the activation; place it again without that silo.
        HashSet<SiloAddress> refused = [];
        while (true)
        {
            var silo = await placement.PlaceAsync(new PlacementRequest(grainId, strategy, refused), call.CancellationToken).ConfigureAwait(false);
            try
            {
                return await SendAsync(silo, call).ConfigureAwait(false);
            }
            catch (NoFreeDeviceException) when (refused.Add(silo))
            {
            }
        }
    }

    /// <remarks>
    /// A silo this caller cannot reach keeps its registration: others may still reach it, and placing the grain again
    /// would make a second activation. The entry goes when the cluster declares that silo dead.
    /// </remarks>
    private Task<object?> SendAsync(SiloAddress silo, GrainCall call) =>
        silo == catalog.LocalSilo ? catalog.InvokeAsync(call) : remote.SendAsync(silo, call);
}
