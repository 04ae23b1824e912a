using OrleansLm.Bench;
using OrleansLm.Silo.Grains;

namespace OrleansLm.TrainingBench;

/// <summary>
/// A configuration's rounds in one: the median of each measured value (each on its own) over the quiet rounds, those
/// during which the rest of the machine kept less than <see cref="QuietBelowCores"/> cores busy (over all rounds when
/// none was quiet); the losses of the last round (every run is seeded, so the rounds train alike); and every placement
/// a cluster run had.
/// </summary>
/// <param name="Rounds">The rounds the medians are over.</param>
/// <param name="OthersCores">The most cores the rest of the machine kept busy during one of those rounds.</param>
internal sealed record Summary(
    Peer Peer, double SecondsPerStep, IReadOnlyList<double> Losses, double ValidationLoss, ClusterStep? Cluster, string Placement,
    int Rounds, double OthersCores)
{
    /// <summary>
    /// On a shared 2-core box a build that starts mid-run slows it by half or more; a tenth of a core of other work is
    /// within what the box does on its own (kernel threads, agents' shells).
    /// </summary>
    public const double QuietBelowCores = 0.1;

    private const int FinalSteps = 10;

    /// <summary>The mean training loss of the last steps: one step's loss is one batch's, too noisy to compare runs by.</summary>
    public double FinalLoss => Losses.TakeLast(FinalSteps).Average();

    public static Summary Of(Peer peer, IReadOnlyList<RunResult> all)
    {
        // Off Linux OthersCores is NaN, and every round counts as quiet.
        var quiet = all.Where(r => !(r.OthersCores >= QuietBelowCores)).ToList();
        var rounds = quiet.Count > 0 ? quiet : all;
        double Median(Func<RunResult, double> value) => Samples.Median([.. rounds.Select(value)]);
        ClusterStep? cluster = null;
        if (rounds[0].Cluster is not null)
        {
            double Phase(Func<StepTimings, double> phase) => Median(r => phase(r.Cluster!.Phases));
            cluster = new ClusterStep(
                Median(r => r.Cluster!.BytesPerStep), Median(r => r.Cluster!.ParameterBytesPerStep),
                new StepTimings(Phase(t => t.Pull), Phase(t => t.Data), Phase(t => t.Forward), Phase(t => t.Backward), Phase(t => t.Push), Phase(t => t.Aggregate)),
                "", (int)Median(r => r.Cluster!.ThreadPoolThreads));
        }
        var placements = string.Join("; ", rounds.Select(r => r.Cluster?.Placement).OfType<string>().Distinct());
        return new Summary(peer, Median(r => r.SecondsPerStep), all[^1].Losses, all[^1].ValidationLoss, cluster, placements,
            rounds.Count, rounds.Max(r => r.OthersCores));
    }
}
