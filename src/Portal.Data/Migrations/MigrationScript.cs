using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace Portal.Data.Migrations;

/// <summary>One SQL file of the schema, named <c>date_ordinal_description.sql</c>; files apply in ordinal order of name.</summary>
/// <param name="Name">The file name, the key in the journal.</param>
/// <param name="Sql">The file's text.</param>
public sealed record MigrationScript(string Name, string Sql)
{
    /// <summary>
    /// The SHA-256 of the file's text with line endings normalised, so a checkout with CRLF endings is not
    /// mistaken for an edited file.
    /// </summary>
    public string Checksum { get; } = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Sql.ReplaceLineEndings("\n"))));

    /// <summary>The scripts built into this assembly from the repository's <c>migrations/</c> folder.</summary>
    public static IReadOnlyList<MigrationScript> Embedded()
    {
        var assembly = typeof(MigrationScript).Assembly;
        const string Prefix = "migrations/";
        return [.. assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Select(n => new MigrationScript(n[Prefix.Length..], Read(assembly, n)))
            .OrderBy(s => s.Name, StringComparer.Ordinal)];
    }

    /// <summary>The <c>.sql</c> files of a folder.</summary>
    public static IReadOnlyList<MigrationScript> FromDirectory(string directory) =>
        [.. Directory.EnumerateFiles(directory, "*.sql")
            .Select(p => new MigrationScript(Path.GetFileName(p), File.ReadAllText(p)))
            .OrderBy(s => s.Name, StringComparer.Ordinal)];

    private static string Read(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}
