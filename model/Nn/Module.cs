using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Nn;

/// <summary>
/// A tree of parameters and sub-modules, as PyTorch's nn.Module. Parameters and buffers are owned by
/// the module (taken out of any dispose scope) and disposed with it.
/// </summary>
public abstract class Module : IDisposable
{
    private readonly List<(string Name, Tensor Tensor)> parameters = [];
    private readonly List<(string Name, Tensor Tensor)> buffers = [];
    private readonly List<(string Name, Module Module)> children = [];
    private bool disposed;

    /// <summary>True in training mode (dropout active), false after <see cref="Eval"/>.</summary>
    public bool Training { get; private set; } = true;

    public long ParameterCount => Parameters().Sum(p => p.NumElements);

    /// <summary>Parameters of this module and its descendants, named by path ("blocks.0.attention.weight").</summary>
    public IEnumerable<(string Name, Tensor Parameter)> NamedParameters() => Walk(m => m.parameters);

    /// <summary>Persistent non-trainable tensors (sinusoidal tables, ...), named by path.</summary>
    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers() => Walk(m => m.buffers);

    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(p => p.Parameter);

    public Module Train(bool training = true)
    {
        Training = training;
        foreach (var (_, child) in children) child.Train(training);
        return this;
    }

    public Module Eval() => Train(false);

    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    /// <summary>Moves every parameter and buffer to <paramref name="device"/>, keeping their identity.</summary>
    public Module To(Device device)
    {
        using var noGrad = LibTorch.NoGrad();
        foreach (var (_, tensor) in NamedParameters().Concat(NamedBuffers()))
        {
            using var moved = tensor.To(device);
            tensor.SetData(moved);
        }
        return this;
    }

    /// <summary>Parameters and buffers by name; the tensors are the module's own, not copies.</summary>
    public IReadOnlyDictionary<string, Tensor> StateDict() =>
        NamedParameters().Concat(NamedBuffers()).ToDictionary(p => p.Item1, p => p.Item2);

    /// <summary>Copies values into this module's tensors; every name must match and every shape agree.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        var own = StateDict();
        var missing = own.Keys.Except(state.Keys).ToList();
        var unexpected = state.Keys.Except(own.Keys).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new ArgumentException(
                $"state dict does not match the module: missing [{string.Join(", ", missing)}], unexpected [{string.Join(", ", unexpected)}]",
                nameof(state));
        using var noGrad = LibTorch.NoGrad();
        foreach (var (name, target) in own)
        {
            var source = state[name];
            if (!source.Shape.SequenceEqual(target.Shape))
                throw new ArgumentException(
                    $"state dict entry '{name}' has shape [{string.Join(", ", source.Shape)}], the module's is [{string.Join(", ", target.Shape)}]",
                    nameof(state));
            target.CopyFrom(source);
        }
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var (_, child) in children) child.Dispose();
        foreach (var (_, tensor) in parameters.Concat(buffers)) tensor.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Adopts <paramref name="value"/> as a trainable parameter (requires grad, owned by this module).</summary>
    protected Tensor RegisterParameter(string name, Tensor value)
    {
        value.DetachFromDisposeScope();
        value.RequiresGrad = true;
        parameters.Add((name, value));
        return value;
    }

    protected Tensor RegisterBuffer(string name, Tensor value)
    {
        value.DetachFromDisposeScope();
        buffers.Add((name, value));
        return value;
    }

    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        children.Add((name, module));
        return module;
    }

    private IEnumerable<(string, Tensor)> Walk(Func<Module, List<(string Name, Tensor Tensor)>> select, string prefix = "")
    {
        foreach (var (name, tensor) in select(this)) yield return (prefix + name, tensor);
        foreach (var (name, child) in children)
            foreach (var entry in child.Walk(select, $"{prefix}{name}.")) yield return entry;
    }
}

/// <summary>A module with one forward function, as <c>nn.Module.forward</c>.</summary>
public abstract class Module<TInput, TOutput> : Module
{
    public abstract TOutput Forward(TInput input);
}
