using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.Invocation;

/// <summary>Makes grain references; validating a grain interface happens once, at its first reference.</summary>
internal sealed class GrainFactory(OutgoingCalls calls) : IGrainFactory
{
    public TGrainInterface GetGrain<TGrainInterface>(string key) where TGrainInterface : IGrainWithStringKey =>
        Reference<TGrainInterface>(GrainId.Create(typeof(TGrainInterface), key));

    public TGrainInterface GetGrain<TGrainInterface>(long key) where TGrainInterface : IGrainWithIntegerKey =>
        Reference<TGrainInterface>(GrainId.Create(typeof(TGrainInterface), key));

    public TGrainInterface GetGrain<TGrainInterface>(string key, long index) where TGrainInterface : IGrainWithCompoundKey =>
        Reference<TGrainInterface>(GrainId.Create(typeof(TGrainInterface), key, index));

    public TGrainInterface GetGrain<TGrainInterface>(GrainId grainId) where TGrainInterface : IGrain =>
        (TGrainInterface)GetGrain(GrainInterface.Of(typeof(TGrainInterface)), grainId);

    /// <summary>A reference typed by a runtime <see cref="GrainInterface"/>, e.g. for a reference decoded from a message.</summary>
    public object GetGrain(GrainInterface grainInterface, GrainId grainId)
    {
        if (grainId.Type != grainInterface.Name)
            throw new ArgumentException($"grain id {grainId} does not name a {grainInterface.Name}", nameof(grainId));
        return GrainReference.Create(grainInterface, grainId, calls);
    }

    private TGrainInterface Reference<TGrainInterface>(GrainId grainId) =>
        (TGrainInterface)GrainReference.Create(GrainInterface.Of(typeof(TGrainInterface)), grainId, calls);
}
