using OrleansLm.Protos.Grpc;
using OrleansLm.Protos.V1;

namespace OrleansLm.Cli;

/// <summary>Process exit codes, so scripts can tell failures apart.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>A failure with no code of its own (the gateway's INTERNAL, UNKNOWN, UNIMPLEMENTED, ...).</summary>
    public const int Failed = 1;
    public const int BadInput = 2;
    public const int Unavailable = 3;
    public const int NotServing = 4;
    public const int Diverged = 5;
    public const int NotFound = 6;
    /// <summary>No token, a wrong one, or one without the right to call the method.</summary>
    public const int Unauthenticated = 7;
    /// <summary>The watched run ended FAILED.</summary>
    public const int RunFailed = 8;
    /// <summary>The watched run ended STOPPED (it can be resumed).</summary>
    public const int RunStopped = 9;
    /// <summary>The request does not fit the run's state: ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED.</summary>
    public const int Conflict = 10;
    /// <summary>The call ran past --timeout.</summary>
    public const int DeadlineExceeded = 11;
    /// <summary>Interrupted (Ctrl+C), as shells report SIGINT.</summary>
    public const int Cancelled = 130;

    /// <summary>The exit code for a call that failed with <paramref name="status"/>.</summary>
    public static int For(StatusCode status) => status switch
    {
        StatusCode.OK => Ok,
        StatusCode.InvalidArgument or StatusCode.OutOfRange => BadInput,
        StatusCode.Unavailable => Unavailable,
        StatusCode.NotFound => NotFound,
        StatusCode.Unauthenticated or StatusCode.PermissionDenied => Unauthenticated,
        StatusCode.AlreadyExists or StatusCode.FailedPrecondition or StatusCode.Aborted => Conflict,
        StatusCode.DeadlineExceeded => DeadlineExceeded,
        StatusCode.Cancelled => Cancelled,
        _ => Failed,
    };

    /// <summary>The exit code for a run that ended in <paramref name="state"/>; <see cref="Failed"/> for one that has not ended.</summary>
    public static int For(RunState state) => state switch
    {
        RunState.Completed => Ok,
        RunState.Failed => RunFailed,
        RunState.Stopped => RunStopped,
        _ => Failed,
    };
}
