using System.Globalization;
using System.Net;

namespace OrleansLm.Runtime;

/// <summary>
/// One incarnation of a silo: its endpoint plus a generation (its start time in ticks), so a silo restarted on
/// the same port is a different member and calls meant for the old incarnation fail instead of reaching the new one.
/// </summary>
public sealed record SiloAddress(string Host, int Port, long Generation)
{
    public IPEndPoint EndPoint => new(IPAddress.Parse(Host), Port);

    /// <summary>"host:port@generation".</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Host}:{Port}@{Generation}");

    public static SiloAddress Parse(string text)
    {
        var at = text.LastIndexOf('@');
        var colon = at < 0 ? -1 : text.LastIndexOf(':', at);
        if (colon <= 0
            || !int.TryParse(text.AsSpan(colon + 1, at - colon - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            || !long.TryParse(text.AsSpan(at + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var generation))
            throw new FormatException($"'{text}' is not a silo address (host:port@generation)");
        return new SiloAddress(text[..colon], port, generation);
    }

    /// <summary>A new incarnation on <paramref name="endPoint"/>, its generation taken from the clock.</summary>
    public static SiloAddress New(IPEndPoint endPoint) => new(endPoint.Address.ToString(), endPoint.Port, DateTime.UtcNow.Ticks);
}
