using Microsoft.AspNetCore.Identity;
using Portal.Data;

namespace Portal.Web.Features.Accounts;

/// <summary>
/// Refuses passwords that are long but guessable: one character or a short pattern repeated (<c>aaaaaaaaaaaa</c>,
/// <c>abcabcabcabc</c>), a run of sequential characters or keyboard rows (<c>123456789012</c>, <c>qwertyuiopas</c>),
/// the account's own e-mail, and the common passwords of at least 12 characters shipped in
/// <c>common-passwords.txt</c> (compared case-insensitively, ignoring a trailing run of digits and punctuation).
/// </summary>
public sealed class CommonPasswords : IPasswordValidator<PortalUser>
{
    private static readonly string[] s_rows = ["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "abcdefghijklmnopqrstuvwxyz"];
    private static readonly HashSet<string> s_common = Load();

    /// <inheritdoc />
    public Task<IdentityResult> ValidateAsync(UserManager<PortalUser> manager, PortalUser user, string? password)
    {
        ArgumentNullException.ThrowIfNull(user);
        var problem = Problem(password ?? "", user.Email);
        return Task.FromResult(problem is null
            ? IdentityResult.Success
            : IdentityResult.Failed(new IdentityError { Code = "PasswordGuessable", Description = problem }));
    }

    /// <summary>Why a password is guessable, or null.</summary>
    public static string? Problem(string password, string? email)
    {
        var lower = password.ToLowerInvariant();
        if (lower.Distinct().Count() <= 3 || Repeats(lower))
        {
            return "The password repeats a few characters; choose one that is not a pattern.";
        }

        if (Sequential(lower))
        {
            return "The password is a run of sequential characters or a keyboard row; choose one that is not a pattern.";
        }

        if (email is { Length: > 0 } && (lower.Contains(email.ToLowerInvariant(), StringComparison.Ordinal)
            || email.Split('@')[0] is { Length: >= 4 } local && lower.Contains(local.ToLowerInvariant(), StringComparison.Ordinal)))
        {
            return "The password contains the account's e-mail address.";
        }

        var punctuation = "!?.@#$%&*-_ ".ToCharArray();
        if (s_common.Contains(lower) || s_common.Contains(lower.TrimEnd(punctuation))
            || s_common.Contains(lower.TrimEnd([.. punctuation, .. "0123456789"])))
        {
            return "The password is on the list of the most common passwords.";
        }

        return null;
    }

    // A short unit repeated to the full length: "abcabcabcabc", "121212121212".
    private static bool Repeats(string text)
    {
        for (var unit = 1; unit <= text.Length / 3; unit++)
        {
            if (text.Length % unit == 0 && string.Concat(Enumerable.Repeat(text[..unit], text.Length / unit)) == text)
            {
                return true;
            }
        }

        return false;
    }

    // Most of the password inside one row or alphabet, forwards or backwards.
    private static bool Sequential(string text)
    {
        foreach (var row in s_rows)
        {
            foreach (var line in new[] { row, new string(row.Reverse().ToArray()) })
            {
                var longest = 0;
                for (var i = 0; i < text.Length; i++)
                {
                    var run = 0;
                    var at = line.IndexOf(text[i], StringComparison.Ordinal);
                    while (at >= 0 && i + run < text.Length && line[(at + run) % line.Length] == text[i + run])
                    {
                        run++;
                    }

                    longest = Math.Max(longest, run);
                }

                if (longest * 4 >= text.Length * 3)
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static HashSet<string> Load()
    {
        using var stream = typeof(CommonPasswords).Assembly.GetManifestResourceStream("Portal.Web.Features.Accounts.common-passwords.txt")
            ?? throw new InvalidOperationException("common-passwords.txt is not embedded.");
        using var reader = new StreamReader(stream);
        var words = new HashSet<string>(StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0 && !line.StartsWith('#'))
            {
                words.Add(line.Trim().ToLowerInvariant());
            }
        }

        return words;
    }
}
