using Google.Protobuf;
using Google.Protobuf.Reflection;
using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;
using OrleansLm.Protos.Grpc;

namespace OrleansLm.Silo.Gateway.Grpc;

/// <summary>
/// The gateway's method table: each method of a .proto service, by its path (/package.Service/Method), with who may
/// call it and its handler. Request and response types come from the service's descriptor, so a handler of the
/// wrong types is refused when it is added rather than when it is called.
/// </summary>
public sealed class GrpcMethods
{
    private readonly Dictionary<string, GrpcMethod> methods = new(StringComparer.Ordinal);
    private readonly List<ServiceDescriptor> services = [];

    public IReadOnlyList<ServiceDescriptor> Services => services;

    public bool TryGet(string path, out GrpcMethod method) => methods.TryGetValue(path, out method!);

    public GrpcMethods Unary<TRequest, TResponse>(
        ServiceDescriptor service, string name, GatewayAccess access, Func<TRequest, GrpcCallContext, Task<TResponse>> handler)
        where TRequest : IMessage where TResponse : IMessage =>
        Add<TRequest, TResponse>(service, name, access, streamsRequests: false, streamsResponses: false,
            async (requests, responses, call) =>
                await responses.WriteAsync(await handler(await SingleAsync(requests, call), call).WaitAsync(call.CancellationToken)));

    public GrpcMethods ServerStreaming<TRequest, TResponse>(
        ServiceDescriptor service, string name, GatewayAccess access, Func<TRequest, IServerStreamWriter<TResponse>, GrpcCallContext, Task> handler)
        where TRequest : IMessage where TResponse : IMessage =>
        Add<TRequest, TResponse>(service, name, access, streamsRequests: false, streamsResponses: true,
            async (requests, responses, call) => await handler(await SingleAsync(requests, call), responses, call));

    public GrpcMethods DuplexStreaming<TRequest, TResponse>(
        ServiceDescriptor service, string name, GatewayAccess access,
        Func<IAsyncEnumerable<TRequest>, IServerStreamWriter<TResponse>, GrpcCallContext, Task> handler)
        where TRequest : IMessage where TResponse : IMessage =>
        Add<TRequest, TResponse>(service, name, access, streamsRequests: true, streamsResponses: true, handler);

    private GrpcMethods Add<TRequest, TResponse>(
        ServiceDescriptor service, string name, GatewayAccess access, bool streamsRequests, bool streamsResponses,
        Func<IAsyncEnumerable<TRequest>, IServerStreamWriter<TResponse>, GrpcCallContext, Task> handler)
        where TRequest : IMessage where TResponse : IMessage
    {
        var descriptor = service.FindMethodByName(name)
            ?? throw new ArgumentException($"{service.FullName} has no method {name}", nameof(name));
        if (descriptor.InputType.ClrType != typeof(TRequest) || descriptor.OutputType.ClrType != typeof(TResponse))
            throw new ArgumentException($"{service.FullName}.{name} takes {descriptor.InputType.FullName} and returns {descriptor.OutputType.FullName}", nameof(name));
        if (descriptor.IsClientStreaming != streamsRequests || descriptor.IsServerStreaming != streamsResponses)
            throw new ArgumentException($"{service.FullName}.{name} is declared with other streaming than its handler", nameof(name));
        if (!services.Contains(service)) services.Add(service);
        methods.Add($"/{service.FullName}/{name}", new GrpcMethod(descriptor, access,
            (call, writer) => handler(call.ReadRequestsAsync<TRequest>(descriptor.InputType), new ServerStreamWriter<TResponse>(writer), call)));
        return this;
    }

    /// <summary>Serves <paramref name="path"/> with the method at <paramref name="existingPath"/> (same messages under another name).</summary>
    public GrpcMethods Alias(string path, string existingPath)
    {
        methods.Add(path, methods[existingPath]);
        return this;
    }

    private static async Task<T> SingleAsync<T>(IAsyncEnumerable<T> requests, GrpcCallContext call)
    {
        await using var enumerator = requests.GetAsyncEnumerator(call.CancellationToken);
        if (!await enumerator.MoveNextAsync())
            throw new RpcException(StatusCode.Internal, $"{call.Method.FullName} got no request message");
        var request = enumerator.Current;
        if (await enumerator.MoveNextAsync())
            throw new RpcException(StatusCode.Internal, $"{call.Method.FullName} takes one request message, it got more");
        return request;
    }

    private sealed class ServerStreamWriter<T>(Func<IMessage, Task> write) : IServerStreamWriter<T> where T : IMessage
    {
        public Task WriteAsync(T message) => write(message);
    }
}

/// <param name="Invoke">Runs the call: reads requests from the call and writes each response with the function.</param>
public sealed record GrpcMethod(MethodDescriptor Descriptor, GatewayAccess Access, Func<GrpcCallContext, Func<IMessage, Task>, Task> Invoke);

/// <summary>Sends a streaming call's responses; one write at a time.</summary>
public interface IServerStreamWriter<in T>
{
    Task WriteAsync(T message);
}
