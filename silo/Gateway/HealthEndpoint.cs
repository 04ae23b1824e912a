using Google.Protobuf;
using OrleansLm.Protos.V1;

namespace OrleansLm.Silo.Gateway;

public static class HealthEndpoint
{
    public const string Path = "/healthz";

    /// <summary>GET /healthz: the silo's <see cref="SiloHealth"/> as protobuf JSON; 503 when not serving.</summary>
    public static IEndpointRouteBuilder MapHealthEndpoint(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(Path, (SiloHealthProbe probe) =>
        {
            var health = probe.Check();
            var serving = health.Status == SiloHealth.Types.Status.Serving;
            return Results.Content(JsonFormatter.Default.Format(health), "application/json",
                statusCode: serving ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        return endpoints;
    }
}
