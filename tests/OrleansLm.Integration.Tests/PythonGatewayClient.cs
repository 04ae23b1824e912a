using System.Text.Json.Nodes;
using OrleansLm.Testing;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// interop/gateway_client.py: a gRPC client written with grpcio (Debian's python3-grpcio, installed by
/// scripts/setup.sh) over Python code that protoc and grpc_python_plugin generate from our .proto files, run against
/// a <see cref="GatewaySilo"/>. It prints one JSON object per check ({"check": name, ...}); these are its results.
/// </summary>
public static class PythonGatewayClient
{
    private const string Python = "/usr/bin/python3";
    private const string Protoc = "/usr/bin/protoc";
    private const string GrpcPlugin = "/usr/bin/grpc_python_plugin";
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    /// <summary>Our .proto files, copied beside the tests under protos/ (their import paths are relative to it).</summary>
    private static readonly string[] ProtoFiles =
        ["olm/v1/training.proto", "olm/v1/sampling.proto", "grpc/health/v1/health.proto", "grpc/reflection/v1/reflection.proto"];

    /// <summary>Generates the Python code and runs the script in <paramref name="mode"/> ("full" or "tls") with <paramref name="arguments"/>.</summary>
    public static async Task<IReadOnlyDictionary<string, JsonObject>> RunAsync(GatewaySilo silo, string mode, params string[] arguments)
    {
        foreach (var tool in new[] { Python, Protoc, GrpcPlugin })
            if (!File.Exists(tool))
                throw new InvalidOperationException(
                    $"{tool} is missing: the interop tests need python3-grpcio, python3-protobuf, protobuf-compiler and protobuf-compiler-grpc (scripts/setup.sh)");
        var generated = Directory.CreateDirectory(Path.Combine(silo.Root, $"python-{mode}"));
        var protos = Path.Combine(AppContext.BaseDirectory, "protos");
        await Tool.RunAsync(Protoc,
            ["-I", protos, $"--python_out={generated.FullName}", $"--grpc_python_out={generated.FullName}", $"--plugin=protoc-gen-grpc_python={GrpcPlugin}", .. ProtoFiles]);

        using var limit = new CancellationTokenSource(Limit);
        // -E and -s keep PYTHON* variables and user site-packages out of the way of Debian's grpcio.
        var output = await Tool.RunAsync(Python,
        [
            "-E", "-s", Path.Combine(AppContext.BaseDirectory, "interop", "gateway_client.py"),
            "--mode", mode, "--target", silo.Address.Authority, "--generated", generated.FullName,
            "--admin-token", silo.AdminToken, "--sampling-token", silo.SamplingToken, .. arguments,
        ], limit.Token);
        var checks = new Dictionary<string, JsonObject>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var check = JsonNode.Parse(line)?.AsObject() ?? throw new InvalidOperationException($"gateway_client.py printed '{line}'");
            checks.Add(check["check"]!.GetValue<string>(), check);
        }
        return checks;
    }
}
