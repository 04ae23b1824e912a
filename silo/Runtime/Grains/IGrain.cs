namespace OrleansLm.Runtime.Grains;

/// <summary>
/// Marks a grain interface. Its methods return <see cref="Task"/> or <see cref="Task{TResult}"/> and may take one
/// <see cref="CancellationToken"/>, which receives the call's token (cancelled when the caller cancels or the call times out).
/// A grain interface derives from exactly one of the key interfaces below, which decides how <see cref="IGrainFactory"/> names it.
/// </summary>
public interface IGrain;

/// <summary>A grain named by a string, e.g. a run id.</summary>
public interface IGrainWithStringKey : IGrain;

/// <summary>A grain named by a 64-bit integer.</summary>
public interface IGrainWithIntegerKey : IGrain;

/// <summary>A grain named by a string and an integer together, e.g. (run id, rank).</summary>
public interface IGrainWithCompoundKey : IGrain;
