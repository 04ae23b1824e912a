using OrleansLm.Model.Training;

namespace OrleansLm.Silo.Grains;

/// <summary>Reading a <see cref="RunSpec"/>'s configuration, with errors that name the spec's field.</summary>
public static class RunSpecs
{
    public static RunConfig Config(RunSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        try
        {
            return ConfigFile.FromJson<RunConfig>(spec.ConfigJson, "spec.config");
        }
        catch (ConfigException e)
        {
            throw new ArgumentException(e.Message, nameof(spec), e);
        }
    }
}
