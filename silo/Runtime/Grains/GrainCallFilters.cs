using System.Reflection;

namespace OrleansLm.Runtime.Grains;

/// <summary>
/// One grain call as a filter sees it. A filter calls <see cref="Invoke"/> once to run the rest of the pipeline (the
/// next filter, finally the call itself); <see cref="Invoke"/> rethrows the call's exception, and a filter may catch
/// it and set <see cref="Result"/> instead, or change <see cref="Result"/> or <see cref="Arguments"/>.
/// </summary>
public interface IGrainCallContext
{
    GrainId TargetId { get; }

    /// <summary>The grain interface method called.</summary>
    MethodInfo InterfaceMethod { get; }

    /// <summary>The call's arguments, in parameter order; a filter may replace elements before <see cref="Invoke"/>.</summary>
    object?[] Arguments { get; }

    /// <summary>The call's result once <see cref="Invoke"/> completed (null for a method returning Task); what the caller gets.</summary>
    object? Result { get; set; }

    /// <summary>What the rest of the pipeline threw, once <see cref="Invoke"/> completed; null on success.</summary>
    Exception? Exception { get; }

    CancellationToken CancellationToken { get; }

    Task Invoke();
}

/// <summary>A call arriving at an activation; its filters run inside the activation's turn.</summary>
public interface IIncomingGrainCallContext : IGrainCallContext
{
    /// <summary>The grain instance the call runs on.</summary>
    Grain Grain { get; }
}

/// <summary>A call leaving a grain reference, before it is routed to its activation; the call timeout covers the rest of the pipeline.</summary>
public interface IOutgoingGrainCallContext : IGrainCallContext;

/// <summary>Wraps every call arriving at an activation of this silo. Registered in DI; they run in registration order.</summary>
public interface IIncomingGrainCallFilter
{
    Task Invoke(IIncomingGrainCallContext context);
}

/// <summary>Wraps every call made through a grain reference on this silo. Registered in DI; they run in registration order.</summary>
public interface IOutgoingGrainCallFilter
{
    Task Invoke(IOutgoingGrainCallContext context);
}
