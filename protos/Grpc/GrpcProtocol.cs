using System.Globalization;
using System.Text;

namespace OrleansLm.Protos.Grpc;

/// <summary>
/// The parts of gRPC over HTTP/2 (grpc/grpc doc/PROTOCOL-HTTP2.md) that server and client share: header names,
/// content type, grpc-timeout and grpc-message encodings.
/// </summary>
public static class GrpcProtocol
{
    public const string ContentType = "application/grpc";
    public const string StatusHeader = "grpc-status";
    public const string MessageHeader = "grpc-message";
    public const string EncodingHeader = "grpc-encoding";
    public const string AcceptEncodingHeader = "grpc-accept-encoding";
    public const string TimeoutHeader = "grpc-timeout";
    public const string Gzip = "gzip";
    public const string Identity = "identity";

    /// <summary>The encodings this implementation reads and writes, as grpc-accept-encoding lists them.</summary>
    public const string SupportedEncodings = "gzip,identity";

    /// <summary>Whether <paramref name="contentType"/> is gRPC's: application/grpc, optionally +proto or ;params (never +json).</summary>
    public static bool IsGrpcContentType(string? contentType)
    {
        if (contentType is null || !contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase)) return false;
        var rest = contentType.AsSpan(ContentType.Length);
        return rest.IsEmpty || rest[0] == ';' || rest.StartsWith("+proto", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>SCREAMING_SNAKE_CASE, as gRPC names its codes.</summary>
    public static string StatusName(StatusCode status) => status switch
    {
        StatusCode.OK => "OK",
        _ => string.Concat(status.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : c.ToString())).ToUpperInvariant(),
    };

    /// <summary>
    /// Parses a grpc-timeout value: at most 8 digits and a unit (H, M, S, m, u, n). Null for a value that is not one,
    /// which a server answers with INVALID_ARGUMENT.
    /// </summary>
    public static TimeSpan? ParseTimeout(string? value)
    {
        if (value is null || value.Length is < 2 or > 9) return null;
        if (!long.TryParse(value.AsSpan(0, value.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var amount)) return null;
        return value[^1] switch
        {
            'H' => TimeSpan.FromHours(amount),
            'M' => TimeSpan.FromMinutes(amount),
            'S' => TimeSpan.FromSeconds(amount),
            'm' => TimeSpan.FromMilliseconds(amount),
            'u' => TimeSpan.FromMicroseconds(amount),
            'n' => TimeSpan.FromTicks(amount / 100),
            _ => null,
        };
    }

    /// <summary>A grpc-timeout for <paramref name="timeout"/>, in the finest unit that fits 8 digits (rounded up).</summary>
    public static string FormatTimeout(TimeSpan timeout)
    {
        var ticks = Math.Max(timeout.Ticks, 0);
        const long maximum = 99_999_999;
        foreach (var (unit, ticksPerUnit) in new[] { ('u', 10L), ('m', TimeSpan.TicksPerMillisecond), ('S', TimeSpan.TicksPerSecond), ('M', TimeSpan.TicksPerMinute) })
        {
            var amount = DivideRoundingUp(ticks, ticksPerUnit);
            if (amount <= maximum) return amount.ToString(CultureInfo.InvariantCulture) + unit;
        }
        return Math.Min(DivideRoundingUp(ticks, TimeSpan.TicksPerHour), maximum).ToString(CultureInfo.InvariantCulture) + "H";
    }

    // Not (a + b - 1) / b, which overflows for durations near TimeSpan.MaxValue.
    private static long DivideRoundingUp(long dividend, long divisor) => dividend / divisor + (dividend % divisor == 0 ? 0 : 1);

    /// <summary>grpc-message's encoding: UTF-8, with bytes outside printable ASCII and '%' percent-encoded.</summary>
    public static string EncodeMessage(string message)
    {
        var builder = new StringBuilder(message.Length);
        foreach (var b in Encoding.UTF8.GetBytes(message))
            if (b is >= 0x20 and <= 0x7E && b != '%') builder.Append((char)b);
            else builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        return builder.ToString();
    }

    /// <summary>Undoes <see cref="EncodeMessage"/>; a malformed escape is kept as it is, as the protocol asks.</summary>
    public static string DecodeMessage(string encoded)
    {
        if (!encoded.Contains('%')) return encoded;
        var bytes = new List<byte>(encoded.Length);
        for (var i = 0; i < encoded.Length; i++)
        {
            if (encoded[i] == '%' && i + 2 < encoded.Length
                && byte.TryParse(encoded.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
            {
                bytes.Add(b);
                i += 2;
            }
            else bytes.AddRange(Encoding.UTF8.GetBytes(encoded[i].ToString()));
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
