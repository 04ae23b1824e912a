namespace OrleansLm.Runtime.Tests.Transport;

/// <summary>Tests that time concurrent traffic run in this collection, never beside other tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SoloCollection
{
    public const string Name = "solo";
}
