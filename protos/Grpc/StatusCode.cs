namespace OrleansLm.Protos.Grpc;

/// <summary>gRPC's status codes (grpc/grpc doc/statuscodes.md), sent as the grpc-status trailer.</summary>
public enum StatusCode
{
    OK = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

/// <summary>A call that ended with a status other than OK, on the server (thrown by a handler) or the client (received).</summary>
public sealed class RpcException(StatusCode status, string detail, Exception? inner = null)
    : Exception($"{GrpcProtocol.StatusName(status)}: {detail}", inner)
{
    public StatusCode Status { get; } = status;

    /// <summary>The grpc-message: what went wrong, naming the offending field where there is one.</summary>
    public string Detail { get; } = detail;
}
