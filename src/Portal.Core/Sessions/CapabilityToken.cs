using System.Security.Cryptography;

namespace Portal.Core.Sessions;

/// <summary>
/// A bearer capability carried in a link: 256 bits from the operating system's CSPRNG, written as
/// unpadded base64url. Only its SHA-256 hash is ever stored.
/// </summary>
public static class CapabilityToken
{
    /// <summary>The number of random bytes in a token (256 bits).</summary>
    public const int ByteLength = 32;

    /// <summary>The length of a token's text form.</summary>
    public const int TextLength = 43;

    /// <summary>Creates a new random token.</summary>
    public static string Create() => System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(ByteLength));

    /// <summary>Returns the SHA-256 hash under which a token is stored and looked up.</summary>
    public static byte[] Hash(string token) => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token));

    /// <summary>
    /// Whether a string has the shape of a token. Anything else is refused before it reaches the database.
    /// </summary>
    public static bool IsWellFormed(string? token)
    {
        if (token is null || token.Length != TextLength)
        {
            return false;
        }

        foreach (var c in token)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '-' || c == '_'))
            {
                return false;
            }
        }

        return true;
    }
}
