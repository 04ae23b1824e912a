using System.Net;
using Google.Protobuf;
using OrleansLm.Protos.V1;

namespace OrleansLm.Client;

/// <summary>A silo answered, but not with something this client understands.</summary>
public sealed class SiloClientException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Talks to one silo over HTTP. The HttpClient's BaseAddress is the silo's URL.</summary>
public sealed class SiloClient(HttpClient http)
{
    /// <summary>The silo's health report; a silo that is up but not serving answers 503 with a report too.</summary>
    public async Task<SiloHealth> GetHealthAsync(CancellationToken cancellation = default)
    {
        using var response = await http.GetAsync("healthz", cancellation);
        var body = await response.Content.ReadAsStringAsync(cancellation);
        if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable))
            throw new SiloClientException($"GET {http.BaseAddress}healthz answered {(int)response.StatusCode} {response.ReasonPhrase}: {Truncate(body)}");
        try
        {
            return JsonParser.Default.Parse<SiloHealth>(body);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new SiloClientException($"GET {http.BaseAddress}healthz returned a body that is not a SiloHealth: {Truncate(body)}", e);
        }
    }

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "…";
}
