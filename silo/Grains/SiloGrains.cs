using OrleansLm.Runtime.Hosting;
using OrleansLm.Silo.Runs;

namespace OrleansLm.Silo.Grains;

/// <summary>The training cluster's grains and the services they share, as a silo registers them.</summary>
public static class SiloGrains
{
    /// <summary>The role of silos that run workers (each holding one of the silo's devices).</summary>
    public const string WorkerRole = "worker";

    /// <summary>The grains with run state in memory and checkpoints in a temporary directory (<see cref="RunStorage.InProcess"/>).</summary>
    public static void Register(IGrainRuntimeBuilder grains) => Register(grains, RunStorage.InProcess());

    public static void Register(IGrainRuntimeBuilder grains, RunStorage storage)
    {
        grains.Services.AddSingleton<RunData>();
        grains.Services.AddSingleton(storage);
        grains.Services.AddSingleton<SamplerRefreshes>();
        grains.Grains
            .Add<ITrainingRunGrain, TrainingRunGrain>()
            .Add<IWorkerGrain, WorkerGrain>()
            .Add<IParameterServerGrain, ParameterServerGrain>()
            .Add<IDataShardGrain, DataShardGrain>()
            .Add<ISamplerGrain, SamplerGrain>();
    }
}
