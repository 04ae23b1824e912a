using System.Text;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace OrleansLm.Protos.Grpc;

/// <summary>
/// Parses received payloads into messages, refusing with INVALID_ARGUMENT what is not a message of the expected type
/// or carries a string field that is not UTF-8 (proto3 requires it; the parser would substitute U+FFFD), naming the
/// field.
/// </summary>
public static class MessageValidation
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static T Parse<T>(MessageParser<T> parser, MessageDescriptor descriptor, byte[] payload) where T : IMessage<T> =>
        (T)Parse((MessageParser)parser, descriptor, payload);

    /// <summary>Parses <paramref name="payload"/> as a <paramref name="descriptor"/> message with <paramref name="parser"/>.</summary>
    public static IMessage Parse(MessageParser parser, MessageDescriptor descriptor, byte[] payload)
    {
        IMessage message;
        try
        {
            message = parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"the message is not a valid {descriptor.FullName}: {e.Message}", e);
        }
        if (FirstInvalidString(payload, descriptor, "") is { } field)
            throw new RpcException(StatusCode.InvalidArgument, $"{field}: not valid UTF-8");
        return message;
    }

    /// <summary>The path (a.b[2].c) of the first string field in <paramref name="payload"/> that is not UTF-8, or null.</summary>
    private static string? FirstInvalidString(ReadOnlySpan<byte> payload, MessageDescriptor descriptor, string prefix)
    {
        var counts = new Dictionary<int, int>();
        var position = 0;
        while (position < payload.Length)
        {
            if (!TryReadVarint(payload, ref position, out var tag)) return null;
            var wireType = (int)(tag & 7);
            var number = (int)(tag >> 3);
            if (wireType != 2)
            {
                if (!Skip(payload, ref position, wireType)) return null;
                continue;
            }
            if (!TryReadVarint(payload, ref position, out var length) || length > (ulong)(payload.Length - position)) return null;
            var bytes = payload.Slice(position, (int)length);
            position += (int)length;
            if (descriptor.FindFieldByNumber(number) is not { } field) continue;
            var index = counts[number] = counts.GetValueOrDefault(number) + 1;
            var path = prefix + field.Name + (field.IsRepeated ? $"[{index - 1}]" : "");
            if (field.FieldType == FieldType.String)
            {
                try { StrictUtf8.GetCharCount(bytes); }
                catch (DecoderFallbackException) { return path; }
            }
            else if (field.FieldType == FieldType.Message && FirstInvalidString(bytes, field.MessageType, path + ".") is { } nested)
                return nested;
        }
        return null;
    }

    private static bool Skip(ReadOnlySpan<byte> payload, ref int position, int wireType)
    {
        switch (wireType)
        {
            case 0: return TryReadVarint(payload, ref position, out _);
            case 1: position += 8; return position <= payload.Length;
            case 5: position += 4; return position <= payload.Length;
            default: return false;
        }
    }

    private static bool TryReadVarint(ReadOnlySpan<byte> payload, ref int position, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64 && position < payload.Length; shift += 7)
        {
            var b = payload[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return true;
        }
        return false;
    }
}
