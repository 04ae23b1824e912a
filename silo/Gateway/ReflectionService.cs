using Google.Protobuf;
using Google.Protobuf.Reflection;
using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;
using OrleansLm.Protos.Reflection.V1;
using OrleansLm.Silo.Gateway.Grpc;

namespace OrleansLm.Silo.Gateway;

/// <summary>
/// gRPC server reflection, v1 and v1alpha (the same messages): lists the gateway's services and serves the descriptors
/// of their .proto files (and what those import), so grpcurl and friends can call without our .proto files.
/// </summary>
public static class ReflectionService
{
    public static void Register(GrpcMethods methods)
    {
        var service = ReflectionReflection.Descriptor.FindTypeByName<ServiceDescriptor>("ServerReflection");
        methods.DuplexStreaming<ServerReflectionRequest, ServerReflectionResponse>(service, "ServerReflectionInfo", GatewayAccess.Open,
            (requests, responses, call) => AnswerAsync(methods, requests, responses, call));
        // v1alpha's messages are v1's under another package: its path reaches the same handler.
        methods.Alias("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", $"/{service.FullName}/ServerReflectionInfo");
    }

    private static async Task AnswerAsync(
        GrpcMethods methods, IAsyncEnumerable<ServerReflectionRequest> requests, IServerStreamWriter<ServerReflectionResponse> responses, GrpcCallContext call)
    {
        var files = methods.Services.Select(s => s.File).Distinct().ToList();
        await foreach (var request in requests.WithCancellation(call.CancellationToken))
        {
            var response = new ServerReflectionResponse { ValidHost = request.Host, OriginalRequest = request };
            switch (request.MessageRequestCase)
            {
                case ServerReflectionRequest.MessageRequestOneofCase.ListServices:
                    response.ListServicesResponse = new ListServiceResponse();
                    response.ListServicesResponse.Service.AddRange(methods.Services.Select(s => new ServiceResponse { Name = s.FullName }));
                    break;
                case ServerReflectionRequest.MessageRequestOneofCase.FileByFilename:
                    Answer(response, files.SelectMany(WithDependencies).FirstOrDefault(f => f.Name == request.FileByFilename),
                        $"file_by_filename: no file {request.FileByFilename}");
                    break;
                case ServerReflectionRequest.MessageRequestOneofCase.FileContainingSymbol:
                    Answer(response, files.FirstOrDefault(f => Declares(f, request.FileContainingSymbol)),
                        $"file_containing_symbol: no symbol {request.FileContainingSymbol}");
                    break;
                case ServerReflectionRequest.MessageRequestOneofCase.AllExtensionNumbersOfType:
                    // Proto3 files declare no extensions: every known message has none.
                    if (files.SelectMany(WithDependencies).Any(f => f.MessageTypes.Any(m => m.FullName == request.AllExtensionNumbersOfType)))
                        response.AllExtensionNumbersResponse = new ExtensionNumberResponse { BaseTypeName = request.AllExtensionNumbersOfType };
                    else Error(response, Protos.Grpc.StatusCode.NotFound, $"all_extension_numbers_of_type: no message {request.AllExtensionNumbersOfType}");
                    break;
                case ServerReflectionRequest.MessageRequestOneofCase.FileContainingExtension:
                    Error(response, Protos.Grpc.StatusCode.NotFound, "file_containing_extension: these files declare no extensions");
                    break;
                default:
                    Error(response, Protos.Grpc.StatusCode.InvalidArgument, "message_request: none of its fields is set");
                    break;
            }
            await responses.WriteAsync(response);
        }
    }

    private static void Answer(ServerReflectionResponse response, FileDescriptor? file, string notFound)
    {
        if (file is null)
        {
            Error(response, Protos.Grpc.StatusCode.NotFound, notFound);
            return;
        }
        response.FileDescriptorResponse = new FileDescriptorResponse();
        response.FileDescriptorResponse.FileDescriptorProto.AddRange(WithDependencies(file).Select(f => f.SerializedData));
    }

    private static void Error(ServerReflectionResponse response, Protos.Grpc.StatusCode status, string message) =>
        response.ErrorResponse = new ErrorResponse { ErrorCode = (int)status, ErrorMessage = message };

    /// <summary><paramref name="file"/>, then every file it imports, transitively, each once.</summary>
    private static IEnumerable<FileDescriptor> WithDependencies(FileDescriptor file) =>
        new[] { file }.Concat(file.Dependencies.SelectMany(WithDependencies)).DistinctBy(f => f.Name);

    /// <summary>Whether <paramref name="file"/> declares <paramref name="symbol"/>: a service, method, message (nested too) or enum.</summary>
    private static bool Declares(FileDescriptor file, string symbol) =>
        file.Services.Any(s => s.FullName == symbol || s.Methods.Any(m => $"{s.FullName}.{m.Name}" == symbol))
        || file.MessageTypes.SelectMany(Nested).Any(m => m.FullName == symbol || m.EnumTypes.Any(e => e.FullName == symbol))
        || file.EnumTypes.Any(e => e.FullName == symbol);

    private static IEnumerable<MessageDescriptor> Nested(MessageDescriptor message) => new[] { message }.Concat(message.NestedTypes.SelectMany(Nested));
}
