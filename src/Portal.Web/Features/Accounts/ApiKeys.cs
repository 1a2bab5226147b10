using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Portal.Data;

namespace Portal.Web.Features.Accounts;

/// <summary>Creates and checks API keys. A key is shown once; only its SHA-256 is stored.</summary>
public static class ApiKeys
{
    /// <summary>The prefix of every key, so a leaked key is easy to recognise in a scan.</summary>
    public const string Prefix = "ptl_";

    /// <summary>Makes a new random key of 256 bits.</summary>
    public static string NewKey() => Prefix + System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    /// <summary>The stored form of a key.</summary>
    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>Finds the user an active key belongs to, or null.</summary>
    public static async Task<PortalUser?> FindUserAsync(PortalDbContext db, string key, CancellationToken cancellationToken)
    {
        var hash = Hash(key);
        return await db.ApiKeys
            .Where(k => k.KeyHash == hash && k.RevokedAt == null)
            .Join(db.Users, k => k.UserId, u => u.Id, (_, u) => u)
            .FirstOrDefaultAsync(cancellationToken);
    }
}
