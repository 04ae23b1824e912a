using Google.Protobuf.Reflection;

namespace OrleansLm.Client;

/// <summary>gRPC's request path of a method, /package.Service/Method, taken from the service's descriptor so a typo fails loudly.</summary>
internal static class MethodPath
{
    public static string Of(ServiceDescriptor service, string method) => service.FindMethodByName(method) is { } found
        ? $"/{service.FullName}/{found.Name}"
        : throw new InvalidOperationException($"{service.FullName} has no method {method}");
}
