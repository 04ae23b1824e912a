using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Placement;

namespace OrleansLm.Runtime.Invocation;

/// <summary>
/// Grain calls and their outcomes as bytes, for the remote path: the sender encodes a request, the receiving silo
/// decodes it, runs it and encodes the response, the sender decodes that into the result or rethrows the exception.
/// <para>
/// Request: format version, grain id (type, key), method key, timeout, forward count, arguments. The interface is
/// the grain id's type, so it is not repeated. Response: version, then a value or an exception.
/// </para>
/// <para>
/// Values carry a type tag: null, bool, the integer and floating types, decimal, char, string, Guid, DateTime,
/// DateTimeOffset, TimeSpan; byte[], int[], long[], float[] and double[] as raw little-endian blocks (one copy, no
/// per-element work); grain references as their grain id; a CancellationToken as a placeholder that decodes to the
/// receiver's token; anything else (records, POCOs, enums, collections) as System.Text.Json with the value's
/// assembly-qualified type name. Decoded values must fit the method's declared parameter or result type, and a JSON
/// type is resolved only if it does, so a message cannot make the receiver instantiate an unrelated type. Peers are
/// trusted otherwise (the silo port requires the cluster secret).
/// </para>
/// <para>
/// Exceptions travel as (type full name, message, stack trace). A known BCL or runtime exception type (see
/// <see cref="Rebuilders"/>) is rebuilt as itself with the message and the remote stack trace; any other type becomes a
/// <see cref="GrainCallException"/> naming it, because constructing arbitrary types by name from a message is neither
/// safe nor generally possible (no string constructor, lost fields). A GrainCallException passed on from a further silo
/// keeps the original type name.
/// </para>
/// </summary>
public sealed class GrainCallCodec
{
    private const byte FormatVersion = 1;
    private const byte ValueResponse = 0;
    private const byte ExceptionResponse = 1;

    // NaN and infinities are ordinary values of a double (a loss not yet known, a diverged one), not errors.
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.General)
    {
        IncludeFields = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
    private static readonly ConcurrentDictionary<string, Type?> TypesByName = new(StringComparer.Ordinal);

    /// <summary>Exception types rebuilt as themselves, by full name, from their message.</summary>
    private static readonly FrozenDictionary<string, Func<string, Exception>> Rebuilders = new Dictionary<string, Func<string, Exception>>
    {
        [typeof(ArgumentException).FullName!] = m => new ArgumentException(m),
        [typeof(ArgumentNullException).FullName!] = m => new ArgumentNullException(null, m),
        [typeof(ArgumentOutOfRangeException).FullName!] = m => new ArgumentOutOfRangeException(null, m),
        [typeof(InvalidOperationException).FullName!] = m => new InvalidOperationException(m),
        [typeof(NotSupportedException).FullName!] = m => new NotSupportedException(m),
        [typeof(NotImplementedException).FullName!] = m => new NotImplementedException(m),
        [typeof(FormatException).FullName!] = m => new FormatException(m),
        [typeof(InvalidCastException).FullName!] = m => new InvalidCastException(m),
        [typeof(KeyNotFoundException).FullName!] = m => new KeyNotFoundException(m),
        [typeof(IndexOutOfRangeException).FullName!] = m => new IndexOutOfRangeException(m),
        [typeof(OverflowException).FullName!] = m => new OverflowException(m),
        [typeof(DivideByZeroException).FullName!] = m => new DivideByZeroException(m),
        [typeof(TimeoutException).FullName!] = m => new TimeoutException(m),
        [typeof(OperationCanceledException).FullName!] = m => new OperationCanceledException(m),
        [typeof(TaskCanceledException).FullName!] = m => new TaskCanceledException(m),
        [typeof(NoFreeDeviceException).FullName!] = m => new NoFreeDeviceException(m),
        [typeof(ObjectDisposedException).FullName!] = m => new ObjectDisposedException(null, m),
        [typeof(UnauthorizedAccessException).FullName!] = m => new UnauthorizedAccessException(m),
        [typeof(IOException).FullName!] = m => new IOException(m),
        [typeof(GrainPlacementException).FullName!] = m => new GrainPlacementException(m),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private readonly GrainFactory grainFactory;

    internal GrainCallCodec(GrainFactory grainFactory) => this.grainFactory = grainFactory;

    private enum Tag : byte
    {
        Null,
        False,
        True,
        Byte,
        SByte,
        Int16,
        UInt16,
        Int32,
        UInt32,
        Int64,
        UInt64,
        Single,
        Double,
        Decimal,
        Char,
        String,
        Guid,
        DateTime,
        DateTimeOffset,
        TimeSpan,
        ByteArray,
        Int32Array,
        Int64Array,
        SingleArray,
        DoubleArray,
        GrainReference,
        CancellationToken,
        Json,
    }

    /// <summary>
    /// The call as bytes, after <paramref name="header"/> (a transport envelope, which the receiver reads past before
    /// <see cref="DecodeRequest"/>): written in place, so a large argument is not copied again to prepend it.
    /// </summary>
    public ReadOnlyMemory<byte> EncodeRequest(GrainCall call, ReadOnlySpan<byte> header = default)
    {
        var writer = new CodecWriter();
        writer.Bytes(header);
        writer.Byte(FormatVersion);
        writer.String(call.TargetId.Type);
        writer.String(call.TargetId.Key);
        writer.String(call.Method.Key);
        writer.Int64(call.Timeout.Ticks);
        writer.Byte((byte)call.ForwardCount);
        writer.Int32(call.Arguments.Length);
        foreach (var argument in call.Arguments) WriteValue(writer, argument);
        return writer.Written;
    }

    /// <summary>The call a request describes; its CancellationToken argument (if any) becomes <paramref name="cancellation"/>.</summary>
    public GrainCall DecodeRequest(ReadOnlySpan<byte> request, CancellationToken cancellation)
    {
        var reader = new CodecReader(request);
        ReadVersion(ref reader);
        var grainId = GrainId.Create(reader.String(), reader.String());
        var method = GrainInterface.Find(grainId.Type).GetMethod(reader.String());
        var timeout = TimeSpan.FromTicks(reader.Int64());
        int forwardCount = reader.Byte();
        var count = reader.Int32();
        if (count != method.ParameterTypes.Count)
            throw new FormatException($"request for {method} carries {count} arguments, the method takes {method.ParameterTypes.Count}");
        var arguments = new object?[count];
        for (var i = 0; i < count; i++)
            arguments[i] = i == method.CancellationTokenIndex
                ? ReadCancellationPlaceholder(ref reader, cancellation, method)
                : ReadValue(ref reader, method.ParameterTypes[i], $"argument {i} of {method}");
        ThrowIfTrailing(reader, method);
        return new GrainCall(grainId, method, arguments, cancellation, timeout, forwardCount);
    }

    public ReadOnlyMemory<byte> EncodeResult(GrainMethod method, object? result)
    {
        var writer = new CodecWriter();
        writer.Byte(FormatVersion);
        writer.Byte(ValueResponse);
        WriteValue(writer, method.ResultType is null ? null : result);
        return writer.Written;
    }

    public ReadOnlyMemory<byte> EncodeException(Exception exception)
    {
        var writer = new CodecWriter();
        writer.Byte(FormatVersion);
        writer.Byte(ExceptionResponse);
        if (exception is GrainCallException passedOn)
        {
            writer.String(passedOn.RemoteType);
            writer.String(passedOn.RemoteMessage);
            writer.NullableString(passedOn.RemoteStackTrace);
        }
        else
        {
            writer.String(exception.GetType().FullName ?? exception.GetType().Name);
            writer.String(exception.Message);
            writer.NullableString(exception.StackTrace);
        }
        return writer.Written;
    }

    /// <summary>The result a response carries (null for a method returning Task), or throws the exception it carries.</summary>
    public object? DecodeResponse(GrainMethod method, ReadOnlySpan<byte> response)
    {
        var reader = new CodecReader(response);
        ReadVersion(ref reader);
        switch (reader.Byte())
        {
            case ValueResponse:
                var value = ReadValue(ref reader, method.ResultType ?? typeof(object), $"result of {method}");
                ThrowIfTrailing(reader, method);
                return value;
            case ExceptionResponse:
                throw Rebuild(reader.String(), reader.String(), reader.NullableString());
            case var kind:
                throw new FormatException($"response to {method} has unknown kind {kind}");
        }
    }

    private static Exception Rebuild(string type, string message, string? stackTrace)
    {
        if (!Rebuilders.TryGetValue(type, out var rebuild)) return new GrainCallException(type, message, stackTrace);
        var exception = rebuild(message);
        return stackTrace is null ? exception : ExceptionDispatchInfo.SetRemoteStackTrace(exception, stackTrace);
    }

    private static void WriteValue(CodecWriter writer, object? value)
    {
        switch (value)
        {
            case null: writer.Byte((byte)Tag.Null); break;
            case bool b: writer.Byte((byte)(b ? Tag.True : Tag.False)); break;
            case byte v: Tagged(Tag.Byte).Byte(v); break;
            case sbyte v: Tagged(Tag.SByte).Byte((byte)v); break;
            case short v: Tagged(Tag.Int16).Int16(v); break;
            case ushort v: Tagged(Tag.UInt16).Int16((short)v); break;
            case int v: Tagged(Tag.Int32).Int32(v); break;
            case uint v: Tagged(Tag.UInt32).Int32((int)v); break;
            case long v: Tagged(Tag.Int64).Int64(v); break;
            case ulong v: Tagged(Tag.UInt64).Int64((long)v); break;
            case float v: Tagged(Tag.Single).Int32(BitConverter.SingleToInt32Bits(v)); break;
            case double v: Tagged(Tag.Double).Int64(BitConverter.DoubleToInt64Bits(v)); break;
            case decimal v: Tagged(Tag.Decimal).Block<int>(decimal.GetBits(v)); break;
            case char v: Tagged(Tag.Char).Int16((short)v); break;
            case string v: Tagged(Tag.String).String(v); break;
            case Guid v: Tagged(Tag.Guid).Block<byte>(v.ToByteArray()); break;
            case DateTime v: Tagged(Tag.DateTime).Int64(v.ToBinary()); break;
            case DateTimeOffset v:
                Tagged(Tag.DateTimeOffset).Int64(v.Ticks);
                writer.Int16((short)v.Offset.TotalMinutes);
                break;
            case TimeSpan v: Tagged(Tag.TimeSpan).Int64(v.Ticks); break;
            case byte[] v: Tagged(Tag.ByteArray).Block<byte>(v); break;
            case int[] v: Tagged(Tag.Int32Array).Block<int>(v); break;
            case long[] v: Tagged(Tag.Int64Array).Block<long>(v); break;
            case float[] v: Tagged(Tag.SingleArray).Block<float>(v); break;
            case double[] v: Tagged(Tag.DoubleArray).Block<double>(v); break;
            case GrainReference v:
                Tagged(Tag.GrainReference).String(v.GrainId.Type);
                writer.String(v.GrainId.Key);
                break;
            case CancellationToken: writer.Byte((byte)Tag.CancellationToken); break;
            default:
                var type = value.GetType();
                Tagged(Tag.Json).String(type.AssemblyQualifiedName ?? throw new NotSupportedException($"{type} has no assembly-qualified name to send"));
                writer.Block<byte>(JsonSerializer.SerializeToUtf8Bytes(value, type, JsonOptions));
                break;
        }

        CodecWriter Tagged(Tag tag)
        {
            writer.Byte((byte)tag);
            return writer;
        }
    }

    private object? ReadValue(ref CodecReader reader, Type expected, string what)
    {
        var tag = (Tag)reader.Byte();
        object? value = tag switch
        {
            Tag.Null => null,
            Tag.False => false,
            Tag.True => true,
            Tag.Byte => reader.Byte(),
            Tag.SByte => (sbyte)reader.Byte(),
            Tag.Int16 => reader.Int16(),
            Tag.UInt16 => (ushort)reader.Int16(),
            Tag.Int32 => reader.Int32(),
            Tag.UInt32 => (uint)reader.Int32(),
            Tag.Int64 => reader.Int64(),
            Tag.UInt64 => (ulong)reader.Int64(),
            Tag.Single => BitConverter.Int32BitsToSingle(reader.Int32()),
            Tag.Double => BitConverter.Int64BitsToDouble(reader.Int64()),
            Tag.Decimal => new decimal(reader.Block<int>()),
            Tag.Char => (char)reader.Int16(),
            Tag.String => reader.String(),
            Tag.Guid => new Guid(reader.Block<byte>()),
            Tag.DateTime => DateTime.FromBinary(reader.Int64()),
            Tag.DateTimeOffset => new DateTimeOffset(reader.Int64(), TimeSpan.FromMinutes(reader.Int16())),
            Tag.TimeSpan => TimeSpan.FromTicks(reader.Int64()),
            Tag.ByteArray => reader.Block<byte>(),
            Tag.Int32Array => reader.Block<int>(),
            Tag.Int64Array => reader.Block<long>(),
            Tag.SingleArray => reader.Block<float>(),
            Tag.DoubleArray => reader.Block<double>(),
            Tag.GrainReference => ReadGrainReference(ref reader),
            Tag.CancellationToken => CancellationToken.None,
            Tag.Json => ReadJson(ref reader, expected, what),
            _ => throw new FormatException($"{what} has unknown type tag {(byte)tag}"),
        };
        var fits = value is null ? !expected.IsValueType || Nullable.GetUnderlyingType(expected) is not null : expected.IsInstanceOfType(value);
        return fits ? value : throw new FormatException($"{what} is a {value?.GetType().Name ?? "null"}, not a {expected.Name}");
    }

    private object ReadGrainReference(ref CodecReader reader)
    {
        var grainId = GrainId.Create(reader.String(), reader.String());
        return grainFactory.GetGrain(GrainInterface.Find(grainId.Type), grainId);
    }

    private static object? ReadJson(ref CodecReader reader, Type expected, string what)
    {
        var typeName = reader.String();
        var json = reader.Bytes();
        var type = TypesByName.GetOrAdd(typeName, static n => Type.GetType(n, throwOnError: false))
                   ?? throw new FormatException($"{what} has type {typeName}, which is not loaded here");
        if (!expected.IsAssignableFrom(type)) throw new FormatException($"{what} is a {type.Name}, not a {expected.Name}");
        return JsonSerializer.Deserialize(json, type, JsonOptions);
    }

    private static object ReadCancellationPlaceholder(ref CodecReader reader, CancellationToken cancellation, GrainMethod method)
    {
        var tag = (Tag)reader.Byte();
        return tag == Tag.CancellationToken ? cancellation : throw new FormatException($"request for {method} has tag {tag} where its CancellationToken goes");
    }

    private static void ReadVersion(ref CodecReader reader)
    {
        var version = reader.Byte();
        if (version != FormatVersion) throw new FormatException($"grain call payload has format version {version}; this silo reads {FormatVersion}");
    }

    private static void ThrowIfTrailing(CodecReader reader, GrainMethod method)
    {
        if (!reader.AtEnd) throw new FormatException($"grain call payload for {method} has bytes after its end");
    }
}
