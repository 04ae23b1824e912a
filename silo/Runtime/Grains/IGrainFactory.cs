namespace OrleansLm.Runtime.Grains;

/// <summary>
/// Hands out references to grains. A reference is a proxy that implements the grain interface; it is cheap, holds no
/// activation, and stays valid across deactivations: the grain is (re)activated by the call that needs it.
/// </summary>
public interface IGrainFactory
{
    TGrainInterface GetGrain<TGrainInterface>(string key) where TGrainInterface : IGrainWithStringKey;

    TGrainInterface GetGrain<TGrainInterface>(long key) where TGrainInterface : IGrainWithIntegerKey;

    TGrainInterface GetGrain<TGrainInterface>(string key, long index) where TGrainInterface : IGrainWithCompoundKey;

    /// <summary>A reference to an existing id, e.g. one read from a message; its type must name <typeparamref name="TGrainInterface"/>.</summary>
    TGrainInterface GetGrain<TGrainInterface>(GrainId grainId) where TGrainInterface : IGrain;
}
