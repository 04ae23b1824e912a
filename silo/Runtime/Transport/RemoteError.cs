using System.Buffers.Binary;
using System.Text;

namespace OrleansLm.Runtime.Transport;

/// <summary>The body of an error response: the handler exception's type name and message (UTF-8, the type length-prefixed).</summary>
internal static class RemoteError
{
    public static byte[] Encode(Exception exception)
    {
        var type = exception.GetType().FullName ?? exception.GetType().Name;
        var typeLength = Encoding.UTF8.GetByteCount(type);
        var body = new byte[4 + typeLength + Encoding.UTF8.GetByteCount(exception.Message)];
        BinaryPrimitives.WriteInt32LittleEndian(body, typeLength);
        Encoding.UTF8.GetBytes(type, body.AsSpan(4));
        Encoding.UTF8.GetBytes(exception.Message, body.AsSpan(4 + typeLength));
        return body;
    }

    public static RemoteHandlerException Decode(byte[] body)
    {
        var typeLength = body.Length >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(body) : -1;
        if (typeLength < 0 || typeLength > body.Length - 4)
            throw new InvalidDataException($"malformed error response of {body.Length} bytes");
        return new RemoteHandlerException(
            Encoding.UTF8.GetString(body, 4, typeLength),
            Encoding.UTF8.GetString(body, 4 + typeLength, body.Length - 4 - typeLength));
    }
}
