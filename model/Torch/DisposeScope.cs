namespace OrleansLm.Model.Torch;

/// <summary>
/// Owns every tensor created while it is the innermost scope, and disposes them when it ends, so a
/// training loop frees its intermediates deterministically instead of waiting for finalizers.
/// Scopes nest; the current scope flows with the async context, so it may span awaits.
/// Keep a result past the scope with <see cref="MoveToOuter"/> or <see cref="Detach"/>.
/// </summary>
public sealed class DisposeScope : IDisposable
{
    private static readonly AsyncLocal<DisposeScope?> current = new();

    private readonly DisposeScope? outer;
    private readonly List<Tensor?> owned = [];
    private bool disposed;

    private DisposeScope(DisposeScope? outer) => this.outer = outer;

    /// <summary>The innermost active scope of this async context, if any.</summary>
    public static DisposeScope? Current => current.Value;

    public static DisposeScope Enter()
    {
        var scope = new DisposeScope(current.Value);
        current.Value = scope;
        return scope;
    }

    /// <summary>Hands the tensor to the enclosing scope (or to the caller, at the outermost scope).</summary>
    public Tensor MoveToOuter(Tensor tensor)
    {
        Release(tensor);
        outer?.Adopt(tensor);
        return tensor;
    }

    /// <summary>Takes the tensor out of every scope: the caller now disposes it.</summary>
    public Tensor Detach(Tensor tensor)
    {
        Release(tensor);
        return tensor;
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        Tensor?[] toDispose;
        lock (owned)
        {
            toDispose = [.. owned];
            owned.Clear();
        }
        for (var i = toDispose.Length - 1; i >= 0; i--) toDispose[i]?.Dispose();
        if (current.Value == this) current.Value = outer;
    }

    internal static void Register(Tensor tensor) => current.Value?.Adopt(tensor);

    private void Adopt(Tensor tensor)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        lock (owned)
        {
            tensor.Scope = this;
            tensor.ScopeSlot = owned.Count;
            owned.Add(tensor);
        }
    }

    private void Release(Tensor tensor)
    {
        if (tensor.Scope != this)
            throw new InvalidOperationException("the tensor is not owned by this dispose scope");
        lock (owned)
        {
            owned[tensor.ScopeSlot] = null;
            tensor.Scope = null;
        }
    }
}
