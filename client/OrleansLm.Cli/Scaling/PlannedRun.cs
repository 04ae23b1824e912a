namespace OrleansLm.Cli.Scaling;

/// <summary>A point of a sweep's grid before it runs: its run id, model override, steps and the run.yaml it starts with.</summary>
/// <param name="Config">The run's full configuration as JSON (which run.yaml readers take), validated by binding it as a RunConfig.</param>
public sealed record PlannedRun(string RunId, string Model, long Steps, string Config);
