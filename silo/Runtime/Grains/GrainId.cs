using System.Globalization;

namespace OrleansLm.Runtime.Grains;

/// <summary>
/// A grain's identity: the full name of its grain interface and its key as normalized text. Integer keys print in
/// invariant decimal, compound keys as "key+index" (the index never contains '+', so the last '+' splits them);
/// string keys are kept as given. The text form "type/key" is what <see cref="Parse"/> reads: interface names never
/// contain '/', keys may.
/// </summary>
public readonly record struct GrainId
{
    private const char TypeSeparator = '/';
    private const char CompoundSeparator = '+';

    private readonly string? type;
    private readonly string? key;

    private GrainId(string type, string key)
    {
        this.type = type;
        this.key = key;
    }

    /// <summary>The grain interface's full name.</summary>
    public string Type => type ?? throw new InvalidOperationException("default(GrainId) names no grain");

    /// <summary>The normalized key text.</summary>
    public string Key => key ?? throw new InvalidOperationException("default(GrainId) names no grain");

    public bool IsDefault => type is null;

    public static GrainId Create(Type grainInterface, string key) =>
        new(TypeNameOf(grainInterface), key ?? throw new ArgumentNullException(nameof(key), "a grain's string key cannot be null"));

    public static GrainId Create(Type grainInterface, long key) =>
        new(TypeNameOf(grainInterface), key.ToString(CultureInfo.InvariantCulture));

    public static GrainId Create(Type grainInterface, string key, long index)
    {
        ArgumentNullException.ThrowIfNull(key);
        return new(TypeNameOf(grainInterface), string.Create(CultureInfo.InvariantCulture, $"{key}{CompoundSeparator}{index}"));
    }

    /// <summary>An id from its two parts as text, e.g. read off the wire; <paramref name="key"/> is taken as already normalized.</summary>
    public static GrainId Create(string type, string key)
    {
        if (string.IsNullOrEmpty(type) || type.Contains(TypeSeparator))
            throw new FormatException($"'{type}' is not a grain type name (non-empty, no '{TypeSeparator}')");
        return new(type, key ?? throw new ArgumentNullException(nameof(key)));
    }

    /// <summary>The key of a grain with a string key.</summary>
    public string GetStringKey() => Key;

    /// <summary>The key of a grain with an integer key.</summary>
    public long GetIntegerKey() =>
        long.TryParse(Key, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new FormatException($"grain {this} has no integer key");

    /// <summary>The two parts of a grain with a compound key.</summary>
    public (string Key, long Index) GetCompoundKey()
    {
        var split = Key.LastIndexOf(CompoundSeparator);
        if (split < 0 || !long.TryParse(Key.AsSpan(split + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var index))
            throw new FormatException($"grain {this} has no compound key (key{CompoundSeparator}index)");
        return (Key[..split], index);
    }

    /// <summary>
    /// A hash of the id that every process computes alike (<see cref="string.GetHashCode()"/> is randomized per
    /// process), for hash-based placement: FNV-1a over the UTF-16 code units of "type/key".
    /// </summary>
    public uint StableHash()
    {
        var hash = 2166136261u;
        foreach (var c in Type) hash = (hash ^ c) * 16777619u;
        hash = (hash ^ TypeSeparator) * 16777619u;
        foreach (var c in Key) hash = (hash ^ c) * 16777619u;
        return hash;
    }

    public override string ToString() => type is null ? "(no grain)" : $"{type}{TypeSeparator}{key}";

    public static GrainId Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var split = text.IndexOf(TypeSeparator);
        if (split <= 0) throw new FormatException($"'{text}' is not a grain id (type{TypeSeparator}key)");
        return new(text[..split], text[(split + 1)..]);
    }

    /// <summary>The type part of ids for <paramref name="grainInterface"/>: its full name, once it is checked to be a grain interface.</summary>
    public static string TypeNameOf(Type grainInterface)
    {
        if (!grainInterface.IsInterface || !typeof(IGrain).IsAssignableFrom(grainInterface))
            throw new ArgumentException($"{grainInterface} is not a grain interface (an interface deriving from IGrain)", nameof(grainInterface));
        if (grainInterface.IsGenericType)
            throw new ArgumentException($"{grainInterface} is generic; grain interfaces cannot be generic", nameof(grainInterface));
        return grainInterface.FullName ?? throw new ArgumentException($"{grainInterface} has no full name", nameof(grainInterface));
    }
}
