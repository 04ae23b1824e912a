using OrleansLm.Runtime.Hosting;

namespace OrleansLm.Silo.Grains;

/// <summary>The training cluster's grains and the services they share, as a silo registers them.</summary>
public static class SiloGrains
{
    /// <summary>The role of silos that run workers (each holding one of the silo's devices).</summary>
    public const string WorkerRole = "worker";

    public static void Register(IGrainRuntimeBuilder grains)
    {
        grains.Services.AddSingleton<RunData>();
        grains.Services.AddSingleton<SamplerRefreshes>();
        grains.Grains
            .Add<ITrainingRunGrain, TrainingRunGrain>()
            .Add<IWorkerGrain, WorkerGrain>()
            .Add<IParameterServerGrain, ParameterServerGrain>()
            .Add<IDataShardGrain, DataShardGrain>()
            .Add<ISamplerGrain, SamplerGrain>();
    }
}
