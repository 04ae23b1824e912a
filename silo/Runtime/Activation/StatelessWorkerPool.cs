using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.Activation;

/// <summary>
/// The local activations of one stateless-worker grain id. A call goes to an idle worker, else to a new worker
/// while the pool is below its limit, else to the least loaded worker. Choosing and enqueueing happen under one
/// lock, so concurrent calls see each other's load and the pool grows exactly as far as they need, never beyond.
/// </summary>
internal sealed class StatelessWorkerPool(Catalog catalog, GrainClass grainClass, GrainId grainId, int maxWorkers)
{
    private readonly List<ActivationData> workers = [];

    public ActivationData[] Workers
    {
        get
        {
            lock (workers) return workers.ToArray();
        }
    }

    /// <summary>Null once delivered; otherwise the deactivating worker that refused the call.</summary>
    public ActivationData? Deliver(CallTurn turn)
    {
        ActivationData worker;
        lock (workers)
        {
            worker = Choose();
            if (!worker.TryEnqueue(turn)) return worker;
        }
        worker.EnsureStarted();
        return null;
    }

    public void Remove(ActivationData worker)
    {
        lock (workers) workers.Remove(worker);
    }

    private ActivationData Choose()
    {
        ActivationData? best = null;
        var bestLoad = int.MaxValue;
        foreach (var worker in workers)
        {
            var load = worker.Load;
            if (load < bestLoad) (best, bestLoad) = (worker, load);
        }
        if (best is not null && (bestLoad == 0 || workers.Count >= maxWorkers)) return best;
        var added = new ActivationData(catalog, grainClass, grainId, this);
        workers.Add(added);
        return added;
    }
}
