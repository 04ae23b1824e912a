using System.Diagnostics;
using System.Diagnostics.Metrics;
using OrleansLm.Silo.Grains;

namespace OrleansLm.Silo.Metrics;

/// <summary>
/// The training cluster's instruments (meter <see cref="Name"/>): a run's progress from its coordinator, step-phase
/// times from its workers and parameter-server shards, and the shards' traffic. Every series carries the run and its
/// model family; workers add their rank, shards their shard index.
/// </summary>
public static class TrainingMeters
{
    public const string Name = "OrleansLm.Training";

    private static readonly Meter Meter = new(Name);

    private static readonly Gauge<double> Loss = Meter.CreateGauge<double>("olm.training.loss", null,
        "Training loss of the run's latest step, nats per token (NaN when the step diverged).");
    private static readonly Gauge<double> ValidationLoss = Meter.CreateGauge<double>("olm.training.validation.loss", null,
        "The run's latest validation loss, nats per token.");
    private static readonly Gauge<double> ValidationPerplexity = Meter.CreateGauge<double>("olm.training.validation.perplexity", null,
        "exp of the run's latest validation loss.");
    private static readonly Gauge<long> Step = Meter.CreateGauge<long>("olm.training.step", null, "Steps the run has done.");
    private static readonly Counter<long> Tokens = Meter.CreateCounter<long>("olm.training.tokens", null,
        "Tokens trained on (targets of completed steps) since this coordinator started the run.");
    private static readonly Gauge<double> TokensPerSecond = Meter.CreateGauge<double>("olm.training.tokens_per_second", null,
        "The run's training throughput since it last (re)started.");
    private static readonly Gauge<double> LearningRate = Meter.CreateGauge<double>("olm.training.learning_rate", null,
        "The learning rate the schedule gave the run's latest step.");
    private static readonly Gauge<double> GradientNorm = Meter.CreateGauge<double>("olm.training.gradient_norm", null,
        "Global L2 norm of the run's latest step's gradient, before clipping.");
    private static readonly Gauge<int> Running = Meter.CreateGauge<int>("olm.training.running", null,
        "1 while the run is running on this coordinator, 0 once it is paused, stopped, completed or failed.");
    private static readonly Histogram<double> StepDuration = Meter.CreateHistogram<double>("olm.training.step.duration", "s",
        "Wall time of the run's synchronous steps at the coordinator, from dispatch to the last shard's update.");
    private static readonly Histogram<double> PhaseDuration = Meter.CreateHistogram<double>("olm.training.phase.duration", "s",
        "Time a step spent in each phase: a worker's pull, data, forward, backward and push; a shard's aggregate.");
    private static readonly Counter<long> ShardReceived = Meter.CreateCounter<long>("olm.ps.received", "By",
        "Gradient bytes a parameter-server shard took in from workers' pushes.");
    private static readonly Counter<long> ShardSent = Meter.CreateCounter<long>("olm.ps.sent", "By",
        "Parameter bytes a parameter-server shard sent to workers' pulls.");
    private static readonly Histogram<double> Aggregation = Meter.CreateHistogram<double>("olm.ps.aggregation.duration", "s",
        "Time a parameter-server shard spent on one step's gradients: summing pushes, its norm, the optimizer update.");

    /// <summary>The labels of one run's series.</summary>
    public sealed record RunLabels(string Run, string Model)
    {
        public TagList Tags => new() { { "run", Run }, { "model", Model } };

        public TagList With(string key, object value)
        {
            var tags = Tags;
            tags.Add(key, value);
            return tags;
        }
    }

    /// <summary>A coordinator finished a step (whether or not its update was applied).</summary>
    public static void Stepped(RunLabels run, RunProgress progress)
    {
        var tags = run.Tags;
        Loss.Record(progress.Loss, tags);
        Step.Record(progress.Step, tags);
        Tokens.Add(progress.Tokens, tags);
        TokensPerSecond.Record(progress.TokensPerSecond, tags);
        LearningRate.Record(progress.LearningRate, tags);
        GradientNorm.Record(progress.GradientNorm, tags);
        StepDuration.Record(progress.Duration.TotalSeconds, tags);
    }

    /// <summary>A step whose loss or gradient norm was not finite, and which the run's policy fails on.</summary>
    public static void Diverged(RunLabels run, double loss) => Loss.Record(loss, run.Tags);

    public static void Evaluated(RunLabels run, double validationLoss)
    {
        var tags = run.Tags;
        ValidationLoss.Record(validationLoss, tags);
        ValidationPerplexity.Record(Math.Exp(validationLoss), tags);
    }

    public static void StateChanged(RunLabels run, RunState state) => Running.Record(state == RunState.Running ? 1 : 0, run.Tags);

    /// <summary>A worker's phases of one step.</summary>
    public static void WorkerStepped(RunLabels run, long rank, StepTimings timings)
    {
        Phase(run, "rank", rank, "pull", timings.Pull);
        Phase(run, "rank", rank, "data", timings.Data);
        Phase(run, "rank", rank, "forward", timings.Forward);
        Phase(run, "rank", rank, "backward", timings.Backward);
        Phase(run, "rank", rank, "push", timings.Push);
    }

    /// <summary>A shard applied (or skipped) one step after <paramref name="seconds"/> of aggregation.</summary>
    public static void ShardAggregated(RunLabels run, long shard, double seconds)
    {
        Phase(run, "shard", shard, "aggregate", seconds);
        Aggregation.Record(seconds, run.With("shard", shard));
    }

    public static void ShardReceivedValues(RunLabels run, long shard, long values) => ShardReceived.Add(values * sizeof(float), run.With("shard", shard));

    public static void ShardSentValues(RunLabels run, long shard, long values) => ShardSent.Add(values * sizeof(float), run.With("shard", shard));

    private static void Phase(RunLabels run, string role, long index, string phase, double seconds)
    {
        var tags = run.With(role, index);
        tags.Add("phase", phase);
        PhaseDuration.Record(seconds, tags);
    }
}

/// <param name="Tokens">Targets trained on in this step.</param>
/// <param name="GradientNorm">Global L2 norm before clipping.</param>
public sealed record RunProgress(long Step, double Loss, long Tokens, double TokensPerSecond, double LearningRate, double GradientNorm, TimeSpan Duration);
