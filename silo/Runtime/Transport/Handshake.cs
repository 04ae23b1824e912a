using System.Buffers.Binary;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Text;

namespace OrleansLm.Runtime.Transport;

/// <summary>
/// The first bytes on a new connection. Both sides send a hello (magic, version, a fresh random nonce, their silo
/// address); the caller then proves it knows the cluster secret with HMAC-SHA256(secret, label, both nonces, both
/// addresses), and the accepting silo, only once satisfied, answers with its own proof under a different label. The
/// secret never crosses the wire, a recorded proof is useless against a fresh nonce, and a listener that does not
/// know the secret cannot pose as a silo.
/// </summary>
internal static class Handshake
{
    private const byte Version = 1;
    private const int NonceSize = 32;
    private const int MaxAddressBytes = 256;
    private const byte Accepted = 1;
    private const byte Refused = 0;
    private const int HelloFixedSize = 4 + 1 + NonceSize + 2;

    private static ReadOnlySpan<byte> Magic => "OLMT"u8;

    private static ReadOnlySpan<byte> CallerLabel => "orleanslm transport: caller proof"u8;

    private static ReadOnlySpan<byte> SiloLabel => "orleanslm transport: silo proof"u8;

    /// <summary>
    /// The dialling side. Returns the address the remote silo announced; throws <see cref="SiloUnavailableException"/>
    /// when the secret was refused or the remote could not prove it, and IO or data exceptions when the exchange broke.
    /// </summary>
    public static async Task<SiloAddress> ConnectAsync(Stream stream, SiloAddress local, SiloAddress target, byte[] secret, CancellationToken cancellation)
    {
        var callerNonce = RandomNumberGenerator.GetBytes(NonceSize);
        await stream.WriteAsync(Hello(callerNonce, local), cancellation);
        var (siloNonce, remote) = await ReadHelloAsync(stream, cancellation);
        await stream.WriteAsync(Proof(secret, CallerLabel, callerNonce, siloNonce, local, remote), cancellation);
        var reply = new byte[1 + HMACSHA256.HashSizeInBytes];
        await stream.ReadExactlyAsync(reply.AsMemory(0, 1), cancellation);
        if (reply[0] != Accepted) throw new SiloUnavailableException(target, "the cluster secret was refused");
        await stream.ReadExactlyAsync(reply.AsMemory(1), cancellation);
        if (!CryptographicOperations.FixedTimeEquals(reply.AsSpan(1), Proof(secret, SiloLabel, callerNonce, siloNonce, local, remote)))
            throw new SiloUnavailableException(target, $"{remote} answered but could not prove it knows the cluster secret");
        return remote;
    }

    /// <summary>
    /// The accepting side. Returns the caller's address; throws <see cref="AuthenticationException"/> after telling
    /// a caller without the secret so, and IO or data exceptions when the exchange broke.
    /// </summary>
    public static async Task<SiloAddress> AcceptAsync(Stream stream, SiloAddress local, byte[] secret, CancellationToken cancellation)
    {
        var (callerNonce, caller) = await ReadHelloAsync(stream, cancellation);
        var siloNonce = RandomNumberGenerator.GetBytes(NonceSize);
        await stream.WriteAsync(Hello(siloNonce, local), cancellation);
        var proof = new byte[HMACSHA256.HashSizeInBytes];
        await stream.ReadExactlyAsync(proof, cancellation);
        if (!CryptographicOperations.FixedTimeEquals(proof, Proof(secret, CallerLabel, callerNonce, siloNonce, caller, local)))
        {
            await stream.WriteAsync(new[] { Refused }, cancellation);
            throw new AuthenticationException($"{caller} did not prove it knows the cluster secret");
        }
        await stream.WriteAsync((byte[])[Accepted, .. Proof(secret, SiloLabel, callerNonce, siloNonce, caller, local)], cancellation);
        return caller;
    }

    private static byte[] Hello(byte[] nonce, SiloAddress address)
    {
        var text = Encoding.UTF8.GetBytes(address.ToString());
        var hello = new byte[HelloFixedSize + text.Length];
        Magic.CopyTo(hello);
        hello[4] = Version;
        nonce.CopyTo(hello, 5);
        BinaryPrimitives.WriteUInt16LittleEndian(hello.AsSpan(5 + NonceSize), checked((ushort)text.Length));
        text.CopyTo(hello, HelloFixedSize);
        return hello;
    }

    private static async Task<(byte[] Nonce, SiloAddress Address)> ReadHelloAsync(Stream stream, CancellationToken cancellation)
    {
        var head = new byte[HelloFixedSize];
        await stream.ReadExactlyAsync(head, cancellation);
        if (!head.AsSpan(0, 4).SequenceEqual(Magic)) throw new InvalidDataException("the peer does not speak the silo transport protocol");
        if (head[4] != Version) throw new InvalidDataException($"the peer speaks transport protocol version {head[4]}, this silo {Version}");
        var length = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(5 + NonceSize));
        if (length > MaxAddressBytes) throw new InvalidDataException($"the peer's address is {length} bytes long");
        var text = new byte[length];
        await stream.ReadExactlyAsync(text, cancellation);
        try
        {
            return (head[5..(5 + NonceSize)], SiloAddress.Parse(Encoding.UTF8.GetString(text)));
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"the peer's hello is malformed: {e.Message}", e);
        }
    }

    /// <summary>HMAC-SHA256 over the label, both nonces and both addresses (each length-prefixed, so no two inputs run together).</summary>
    private static byte[] Proof(byte[] secret, ReadOnlySpan<byte> label, byte[] callerNonce, byte[] siloNonce, SiloAddress caller, SiloAddress silo)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, secret);
        hmac.AppendData(label);
        hmac.AppendData(callerNonce);
        hmac.AppendData(siloNonce);
        AppendAddress(hmac, caller);
        AppendAddress(hmac, silo);
        return hmac.GetHashAndReset();
    }

    private static void AppendAddress(IncrementalHash hmac, SiloAddress address)
    {
        var text = Encoding.UTF8.GetBytes(address.ToString());
        Span<byte> length = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(length, checked((ushort)text.Length));
        hmac.AppendData(length);
        hmac.AppendData(text);
    }
}
