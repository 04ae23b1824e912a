namespace OrleansLm.Runtime.Cluster;

/// <summary>The first byte of every request between silos: what the rest of the bytes are.</summary>
public enum ClusterMessageKind : byte
{
    /// <summary>A grain call encoded by <see cref="Invocation.GrainCallCodec"/>; the response is the codec's.</summary>
    GrainCall = 1,

    /// <summary>Register a silo for a grain at the grain's directory partition owner (first wins).</summary>
    DirectoryRegister = 2,

    DirectoryLookup = 3,

    DirectoryUnregister = 4,

    /// <summary>
    /// A partition owner's request, after a view change, for the receiver's activations that the owner's new ring
    /// (the members listed in the body) gives to the owner; the reply lists their grain ids.
    /// </summary>
    DirectoryRecover = 5,
}
