using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Nn;

/// <summary>
/// The keys and values one attention layer has computed for the positions decoded so far, so a new
/// token attends over them without recomputing them. Owns its tensors (outside any dispose scope).
/// </summary>
public sealed class KeyValueCache : IDisposable
{
    /// <summary>Cached keys [B, H, S, d_k], or null before the first append.</summary>
    public Tensor? Keys { get; private set; }

    /// <summary>Cached values [B, H, S, d_k], or null before the first append.</summary>
    public Tensor? Values { get; private set; }

    /// <summary>Positions cached so far (S).</summary>
    public long Length => Keys?.Shape[2] ?? 0;

    /// <summary>Appends keys and values [B, H, T, d_k] and returns all of them, [B, H, S + T, d_k].</summary>
    public (Tensor Keys, Tensor Values) Append(Tensor keys, Tensor values)
    {
        Keys = Extend(Keys, keys);
        Values = Extend(Values, values);
        return (Keys, Values);
    }

    /// <summary>Keeps the sequences named by <paramref name="rows"/> [B'] (Int64), in that order.</summary>
    public void Select(Tensor rows)
    {
        Keys = Replace(Keys, Keys?.IndexSelect(0, rows));
        Values = Replace(Values, Values?.IndexSelect(0, rows));
    }

    /// <summary>Frees the cached tensors; the cache starts empty again.</summary>
    public void Clear()
    {
        Keys?.Dispose();
        Values?.Dispose();
        Keys = Values = null;
    }

    public void Dispose() => Clear();

    // A fresh tensor for the first append: a handle of our own, which the caller's scope cannot dispose.
    private static Tensor Extend(Tensor? cached, Tensor fresh) =>
        Replace(cached, cached is null ? fresh.Contiguous() : Tensor.Cat([cached, fresh], dim: 2))!;

    private static Tensor? Replace(Tensor? old, Tensor? replacement)
    {
        old?.Dispose();
        return replacement?.DetachFromDisposeScope();
    }
}
